using Microsoft.Playwright;
using Xunit.Abstractions;

namespace AspirePerf.EndToEnd.Tests;

/// <summary>
/// The Scalar API reference opens in a browser under the API's Content-Security-Policy, with nothing blocked; it shows
/// the document's X-Api-Key scheme, and a key entered there once goes with a request the page sends to an operator
/// endpoint, which accepts it.
/// </summary>
public static class ApiReferencePage
{
    private const float Timeout = 60_000;

    public static async Task AssertRendersWithinItsContentSecurityPolicyAsync(IPage page, Uri api, string screenshotDirectory, ITestOutputHelper output)
    {
        ArgumentNullException.ThrowIfNull(page);
        ArgumentNullException.ThrowIfNull(output);
        var violations = new List<string>();
        void OnConsole(object? sender, IConsoleMessage message)
        {
            if (message.Text.Contains("Content Security Policy", StringComparison.OrdinalIgnoreCase))
            {
                lock (violations)
                {
                    violations.Add(message.Text);
                }
            }
        }
        page.Console += OnConsole;
        try
        {
            await page.GotoAsync(new Uri(api, "/scalar/v1").ToString(), new PageGotoOptions { WaitUntil = WaitUntilState.NetworkIdle, Timeout = Timeout });
            // The reference lists the API's operations once its script has run.
            await page.GetByText("GetResourceHealth").Or(page.GetByText("Live health of every resource")).First
                .WaitForAsync(new LocatorWaitForOptions { Timeout = Timeout });
            var screenshot = Path.Combine(screenshotDirectory, "api-reference.png");
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot });
            output.WriteLine($"API reference screenshot: {screenshot}");
        }
        finally
        {
            page.Console -= OnConsole;
        }
        // Only the font host may be refused here (no network on the test machines); scripts, styles and data must load.
        Assert.DoesNotContain(violations, v => !v.Contains("fonts.scalar.com", StringComparison.Ordinal));
    }

    /// <summary>
    /// On the open reference: the ApiKey scheme with its header, a key typed into it, and "Test Request" then "Send" on
    /// an operator endpoint (PUT /api/v1/perf/profiling, whose example body the page fills in) answered 200.
    /// </summary>
    public static async Task AssertCallsAnOperatorEndpointWithAKeyAsync(IPage page, string operatorKey, string screenshotDirectory, ITestOutputHelper output)
    {
        ArgumentNullException.ThrowIfNull(page);
        ArgumentNullException.ThrowIfNull(output);
        await Assertions.Expect(page.GetByText("Selected Auth Type: ApiKey").First).ToBeVisibleAsync(new() { Timeout = Timeout });
        await Assertions.Expect(page.GetByText("X-Api-Key", new() { Exact = true }).First).ToBeVisibleAsync(new() { Timeout = Timeout });
        await page.Locator("input.scalar-password-input").First.FillAsync(operatorKey, new() { Timeout = Timeout });

        await page.GetByText("Performance", new() { Exact = true }).First.ClickAsync(new() { Timeout = Timeout });
        await page.GetByText("Switch request profiling on or off").First.ClickAsync(new() { Timeout = Timeout });
        await page.Locator("button", new() { HasText = "(put /api/v1/perf/profiling)" }).First.ClickAsync(new() { Timeout = Timeout });
        var send = page.GetByRole(AriaRole.Button, new() { Name = "Send put request" }).First;
        var answer = await page.RunAndWaitForResponseAsync(() => send.ClickAsync(new() { Timeout = Timeout }),
            response => response.Url.EndsWith("/api/v1/perf/profiling", StringComparison.Ordinal) && response.Request.Method == "PUT",
            new() { Timeout = Timeout });

        var screenshot = Path.Combine(screenshotDirectory, "api-reference-operator-call.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot });
        output.WriteLine($"API reference operator call: {answer.Status} ({screenshot})");
        Assert.Equal(operatorKey, await answer.Request.HeaderValueAsync("x-api-key"));
        Assert.True(answer.Status == 200, $"PUT /api/v1/perf/profiling from the reference answered {answer.Status}: {await answer.TextAsync()}");
    }
}
