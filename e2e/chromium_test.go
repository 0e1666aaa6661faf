package e2e

import (
	"context"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/storage"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// chromium drives headless Chromium through the DevTools protocol, with
// chromedp.
type chromium struct {
	ctx context.Context
}

func startChromium(t *testing.T) browser { return newChromium(t) }

// newChromium starts headless Chromium with a fresh profile in a process
// group of its own. The demo test uses its chromedp context directly.
func newChromium(t *testing.T) *chromium {
	t.Helper()
	path := need(t, "CHROMIUM", "/usr/bin/chromium", "chromium")
	var cmd *exec.Cmd
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("ignore-certificate-errors", true), // the test's own certificate
		chromedp.UserDataDir(t.TempDir()),
		// chromedp waits 20 s for the DevTools address by default: not
		// enough on a busy machine.
		chromedp.WSURLReadTimeout(patience),
		chromedp.ModifyCmdFunc(func(c *exec.Cmd) {
			c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
			cmd = c
		}),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	// The first call allocates the browser for as long as its context
	// lives, so it takes no deadline: a timer stops a start that hangs.
	hung := time.AfterFunc(patience, cancelCtx)
	err := chromedp.Do(ctx)
	hung.Stop()
	require.NoError(t, err, "start Chromium")
	killGroupAtEnd(t, cmd.Process.Pid)
	return &chromium{ctx: ctx}
}

// within bounds one call, since the browser's context must have no
// deadline of its own (chromedp.Run).
func (c *chromium) within() (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.ctx, patience)
}

// navigate waits for the load event of the navigation it starts.
func (c *chromium) navigate(url string) error {
	ctx, cancel := c.within()
	defer cancel()
	return chromedp.Do(ctx, chromedp.Navigate(url))
}

func (c *chromium) eval(js string) (string, error) {
	ctx, cancel := c.within()
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[string]("String("+js+")"))
}

func (c *chromium) cookies() ([]cookie, error) {
	ctx, cancel := c.within()
	defer cancel()
	res, err := chromedp.Call(ctx, storage.GetCookies, storage.GetCookiesParams{})
	if err != nil {
		return nil, err
	}
	var out []cookie
	for _, c := range res.Cookies {
		out = append(out, cookie{
			Name: c.Name, Value: c.Value, Domain: c.Domain, Path: c.Path,
			HTTPOnly: c.HTTPOnly, Secure: c.Secure, SameSite: string(c.SameSite),
			Session: c.Session,
		})
		if c.PartitionKey != nil {
			out[len(out)-1].Partition = c.PartitionKey.TopLevelSite
		}
	}
	return out, nil
}

func (c *chromium) clear() error {
	ctx, cancel := c.within()
	defer cancel()
	_, err := chromedp.Call(ctx, storage.ClearCookies, storage.ClearCookiesParams{})
	return err
}
