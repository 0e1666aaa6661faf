// Package ginsession mounts a cookiesession Manager in gin.
//
// gin handlers write through gin's own ResponseWriter (c.Writer), so the
// session must be saved from there: Middleware swaps in a writer that
// passes every write through the Manager's, which saves the session just
// before the header goes out, as it does for net/http handlers.
package ginsession

import (
	"net/http"

	"github.com/cookiesession/cookiesession"
	"github.com/gin-gonic/gin"
)

// Middleware returns gin middleware that gives every request a session,
// read with m.FromContext(c.Request.Context()).
func Middleware(m *cookiesession.Manager) gin.HandlerFunc {
	return func(c *gin.Context) {
		outer := c.Writer
		m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c.Request = r
			c.Writer = &writer{ResponseWriter: outer, session: w}
			c.Next()
		})).ServeHTTP(outer, c.Request)
		c.Writer = outer
	}
}

// writer is gin's writer with the writes that send the header routed
// through the session middleware's writer (session), which then calls
// gin's.
type writer struct {
	gin.ResponseWriter
	session http.ResponseWriter
}

func (w *writer) WriteHeader(code int)              { w.session.WriteHeader(code) }
func (w *writer) Write(b []byte) (int, error)       { return w.session.Write(b) }
func (w *writer) WriteString(s string) (int, error) { return w.session.Write([]byte(s)) }

// WriteHeaderNow is how gin sends a header without a body (c.Status,
// redirects): the session is saved first.
func (w *writer) WriteHeaderNow() {
	w.session.WriteHeader(w.ResponseWriter.Status())
	w.ResponseWriter.WriteHeaderNow()
}

func (w *writer) Flush() { w.session.(http.Flusher).Flush() }
