using Deque.AxeCore.Commons;
using Deque.AxeCore.Playwright;
using AspirePerf.TestSupport;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace AspirePerf.EndToEnd.Tests;

/// <summary>
/// What every console page test does: open a page as a visitor or as a signed-in operator, save its screenshot with the
/// test output, and check it with axe (no serious or critical violation). Operator actions carry
/// <c>data-operator-action</c>, so a test can see that a visitor is shown none.
/// </summary>
public static class ConsolePages
{
    public const string OperatorAction = "[data-operator-action]";

    /// <summary>A visitor (no cookie) on <paramref name="path"/>, once the interactive page is up.</summary>
    public static async Task<IPage> OpenAsVisitorAsync(SystemFixture system, string path)
    {
        ArgumentNullException.ThrowIfNull(system);
        var page = await system.NewPageAsync();
        await GotoAsync(page, system, path);
        return page;
    }

    /// <summary>An operator signed in through the sign-in form with the AppHost's key, then on <paramref name="path"/>.</summary>
    public static async Task<IPage> OpenAsOperatorAsync(SystemFixture system, string path)
    {
        ArgumentNullException.ThrowIfNull(system);
        var page = await system.NewPageAsync();
        await page.GotoAsync(new Uri(system.Console, $"/signin?returnUrl={Uri.EscapeDataString(path)}").ToString());
        await page.FillAsync("[data-testid=operator-key]", system.OperatorKey);
        await page.ClickAsync("[data-testid=sign-in]");
        await page.WaitForSelectorAsync("[data-testid=operator-signed-in]", new PageWaitForSelectorOptions { Timeout = 30_000 });
        await WaitInteractiveAsync(page);
        return page;
    }

    public static async Task GotoAsync(IPage page, SystemFixture system, string path)
    {
        ArgumentNullException.ThrowIfNull(page);
        ArgumentNullException.ThrowIfNull(system);
        await page.GotoAsync(new Uri(system.Console, path).ToString());
        await WaitInteractiveAsync(page);
    }

    /// <summary>Waits until Blazor's circuit is connected (the page's live parts and buttons work from then on).</summary>
    public static Task WaitInteractiveAsync(IPage page) =>
        page.WaitForFunctionAsync("() => window.Blazor && document.querySelector('[data-interactive]') !== null",
            null, new PageWaitForFunctionOptions { Timeout = 30_000 });

    public static async Task<string> ScreenshotAsync(IPage page, string name, ITestOutputHelper output)
    {
        ArgumentNullException.ThrowIfNull(page);
        ArgumentNullException.ThrowIfNull(output);
        Directory.CreateDirectory(TestDirectories.TestResults);
        var path = Path.Combine(TestDirectories.TestResults, $"console-{name}.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        output.WriteLine($"Screenshot: {path}");
        return path;
    }

    /// <summary>Runs axe on the page as it is now; fails on any serious or critical violation, listing each with where it is.</summary>
    public static async Task AssertAccessibleAsync(IPage page, string name, ITestOutputHelper output)
    {
        ArgumentNullException.ThrowIfNull(page);
        ArgumentNullException.ThrowIfNull(output);
        var result = await page.RunAxe();
        foreach (var violation in result.Violations)
        {
            output.WriteLine($"axe {name}: {violation.Impact} {violation.Id}: {violation.Help} ({violation.Nodes.Length} node(s))");
        }
        var serious = result.Violations.Where(v => v.Impact is "serious" or "critical").ToList();
        Assert.True(serious.Count == 0, $"axe found serious accessibility violations on {name}:{Environment.NewLine}" + string.Join(Environment.NewLine,
            serious.Select(v => $"- {v.Impact} {v.Id}: {v.Help} {v.HelpUrl}{Environment.NewLine}" + string.Join(Environment.NewLine,
                v.Nodes.Take(5).Select(n => $"    {n.Target}: {n.Html[..Math.Min(200, n.Html.Length)]}")))));
        output.WriteLine($"axe {name}: {result.Passes.Length} rules passed, {result.Violations.Length} violation(s), none serious");
    }
}
