using Microsoft.Playwright;
using Xunit.Abstractions;

namespace AspirePerf.EndToEnd.Tests;

/// <summary>The Scalar API reference opens in a browser under the API's Content-Security-Policy, with nothing blocked.</summary>
public static class ApiReferencePage
{
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
            await page.GotoAsync(new Uri(api, "/scalar/v1").ToString(), new PageGotoOptions { WaitUntil = WaitUntilState.NetworkIdle, Timeout = 60_000 });
            // The reference lists the API's operations once its script has run.
            await page.GetByText("GetResourceHealth").Or(page.GetByText("Live health of every resource")).First
                .WaitForAsync(new LocatorWaitForOptions { Timeout = 60_000 });
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
}
