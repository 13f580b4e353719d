package demo

import (
	"context"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/odyssey-1/roman/internal/testkit"
)

var demoURLRE = regexp.MustCompile(`Dashboard: (http://\S+)`)
var demoKeyRE = regexp.MustCompile(`Read key:  (\S+)`)

// TestDocsScreenshot regenerates the README's screenshot from `roman demo`
// (the seed's scenario at 10x speed) when ROMAN_DOCS_SCREENSHOT names the
// file, e.g.:
//
//	ROMAN_DOCS_SCREENSHOT=$PWD/docs/dashboard.png go test -run TestDocsScreenshot ./demo
func TestDocsScreenshot(t *testing.T) {
	path := os.Getenv("ROMAN_DOCS_SCREENSHOT")
	if path == "" {
		t.Skip("set ROMAN_DOCS_SCREENSHOT=<file.png> to regenerate the README's screenshot")
	}
	browser := testkit.Chromium(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &testkit.Sink{}
	recovered := out.Seen("Recovered:")
	done := make(chan error, 1)
	go func() { done <- Run(ctx, Options{Speed: 10, Listen: "127.0.0.1:0", Stay: true}, out) }()
	select {
	case <-recovered:
	case err := <-done:
		t.Fatalf("demo: %v\n%s", err, out)
	case <-time.After(2 * time.Minute):
		t.Fatalf("the demo did not finish:\n%s", out)
	}
	url, key := demoURLRE.FindStringSubmatch(out.String())[1], demoKeyRE.FindStringSubmatch(out.String())[1]
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), chromedp.ExecPath(browser),
		chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	defer cancelAlloc()
	bctx, cancelB := chromedp.NewContext(actx)
	defer cancelB()
	err := chromedp.Do(bctx,
		chromedp.Navigate(url),
		chromedp.WaitVisible(`#signin-form`),
		chromedp.SendKeys(`#key`, key),
		chromedp.Submit(`#signin-form`),
		chromedp.WaitVisible(`tr.rollback[data-trigger="automatic"][data-status="success"]`),
		chromedp.Click(`tr.rollback[data-trigger="automatic"]`),
		chromedp.WaitVisible(`tr.steps li[data-step="complete"]`),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			png, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(path, png, 0o644)
		}))
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", path)
}
