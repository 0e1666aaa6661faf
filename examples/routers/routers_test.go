// Package routers mounts cookiesession in chi, echo and gin, each the way
// the router's users expect, behind net/http's cross-origin protection
// (a cookie session is what cross-site request forgery rides on), and
// runs the same log in → counter → log out sequence through each.
package routers

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/examples/routers/ginsession"
	"github.com/gin-gonic/gin"
	"github.com/go-chi/chi/v5"
	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newManager(t *testing.T) *cookiesession.Manager {
	t.Helper()
	m, err := cookiesession.New(cookiesession.Options{
		Secrets: [][]byte{[]byte("routers-example-key-0001-use-GenerateSecret-instead")},
		Name:    "__Host-session",
	})
	require.NoError(t, err)
	return m
}

// The three actions, as plain functions of the session: each router's
// handlers only fetch the session and write the result.
func login(s *cookiesession.Session, user string) string {
	s.Renew()
	s.Set("user", user)
	return "hello " + user
}

func count(s *cookiesession.Session) string {
	user, _ := cookiesession.Value[string](s, "user")
	n, _ := cookiesession.Value[int](s, "n")
	s.Set("n", n+1)
	return fmt.Sprintf("%s %d", user, n+1)
}

func logout(s *cookiesession.Session) string {
	s.Destroy()
	return "bye"
}

func chiRouter(m *cookiesession.Manager) http.Handler {
	r := chi.NewRouter()
	r.Use(http.NewCrossOriginProtection().Handler, m.Middleware)
	r.Post("/login", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, login(m.FromContext(r.Context()), r.FormValue("user")))
	})
	r.Get("/count", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, count(m.FromContext(r.Context())))
	})
	r.Post("/logout", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, logout(m.FromContext(r.Context())))
	})
	return r
}

func echoRouter(m *cookiesession.Manager) http.Handler {
	e := echo.New()
	e.Use(echo.WrapMiddleware(http.NewCrossOriginProtection().Handler), echo.WrapMiddleware(m.Middleware))
	session := func(c echo.Context) *cookiesession.Session { return m.FromContext(c.Request().Context()) }
	e.POST("/login", func(c echo.Context) error { return c.String(http.StatusOK, login(session(c), c.FormValue("user"))) })
	e.GET("/count", func(c echo.Context) error { return c.String(http.StatusOK, count(session(c))) })
	e.POST("/logout", func(c echo.Context) error { return c.String(http.StatusOK, logout(session(c))) })
	return e
}

func ginRouter(m *cookiesession.Manager) http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(ginsession.Middleware(m))
	session := func(c *gin.Context) *cookiesession.Session { return m.FromContext(c.Request.Context()) }
	r.POST("/login", func(c *gin.Context) { c.String(http.StatusOK, login(session(c), c.PostForm("user"))) })
	r.GET("/count", func(c *gin.Context) { c.String(http.StatusOK, count(session(c))) })
	r.POST("/logout", func(c *gin.Context) { c.String(http.StatusOK, logout(session(c))) })
	// A response without a body still carries the session.
	r.POST("/touch", func(c *gin.Context) { session(c).Set("touched", true); c.Status(http.StatusNoContent) })
	return http.NewCrossOriginProtection().Handler(r)
}

func TestRouters(t *testing.T) {
	for name, build := range map[string]func(*cookiesession.Manager) http.Handler{
		"chi": chiRouter, "echo": echoRouter, "gin": ginRouter,
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewTLSServer(build(newManager(t)))
			defer srv.Close()
			c := srv.Client()
			c.Jar, _ = cookiejar.New(nil)
			do := func(method, path string, form url.Values) (string, *http.Response) {
				req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(form.Encode()))
				require.NoError(t, err)
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				resp, err := c.Do(req)
				require.NoError(t, err)
				defer resp.Body.Close()
				body, err := io.ReadAll(resp.Body)
				require.NoError(t, err)
				return string(body), resp
			}

			body, resp := do("POST", "/login", url.Values{"user": {"ada"}})
			assert.Equal(t, "hello ada", body)
			require.Len(t, resp.Cookies(), 1)
			assert.Equal(t, "__Host-session", resp.Cookies()[0].Name)
			assert.Equal(t, "Cookie", resp.Header.Get("Vary"))

			body, _ = do("GET", "/count", nil)
			assert.Equal(t, "ada 1", body)
			body, _ = do("GET", "/count", nil)
			assert.Equal(t, "ada 2", body)

			body, resp = do("POST", "/logout", nil)
			assert.Equal(t, "bye", body)
			require.Len(t, resp.Cookies(), 1)
			assert.Equal(t, -1, resp.Cookies()[0].MaxAge, "the cookie is deleted")
			body, _ = do("GET", "/count", nil)
			assert.Equal(t, " 1", body, "a new session")

			// A form on another site posting here, as browsers send it.
			req, err := http.NewRequest("POST", srv.URL+"/login", strings.NewReader("user=mallory"))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Sec-Fetch-Site", "cross-site")
			resp, err = c.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, http.StatusForbidden, resp.StatusCode, "cross-origin requests are refused")
			assert.Empty(t, resp.Cookies())
			body, _ = do("GET", "/count", nil)
			assert.Equal(t, " 2", body, "the session is unchanged")

			if name == "gin" {
				_, resp = do("POST", "/touch", nil)
				assert.Equal(t, http.StatusNoContent, resp.StatusCode)
				assert.Len(t, resp.Cookies(), 1, "saved before gin wrote the header")
			}
		})
	}
}
