package cookiesession

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
)

// FromContext returns the session that m's [Manager.Middleware] attached to
// ctx. It panics when there is none: a handler outside the middleware
// would otherwise lose every change silently.
func (m *Manager) FromContext(ctx context.Context) *Session {
	s, ok := ctx.Value(m.contextKey).(*Session)
	if !ok {
		panic("cookiesession: no session in context; is the handler wrapped in Manager.Middleware?")
	}
	return s
}

// Middleware attaches a session to each request's context, for
// [Manager.FromContext], and saves it before the response header goes out:
// on the first WriteHeader (other than 1xx), Write, ReadFrom or Flush, or
// when next returns without writing. Requests whose handler never uses the
// session cost no decoding and get no Set-Cookie.
//
// When saving fails, ErrorHandler answers instead of next, on a header
// cleared of everything set so far (the handler's Location, Content-Type,
// caching headers and cookies were meant for another response), and
// next's later writes are discarded with the error. A handler that called
// [Manager.Save] itself and got the error answers for itself: its response
// stands, without the session's cookies.
//
// A connection hijacked for a WebSocket is answered by the upgrader, which
// never sends the handler's header: a session changed before the upgrade
// is lost unless the handler passes the lines of [Manager.SaveHeader] to
// the upgrader (the response header argument of gorilla/websocket's
// Upgrade, for one). The middleware logs a warning when it was not done.
//
// When a request carries two valid sessions under the session's name (a
// cookie tossed for a parent domain by a sibling subdomain), both are
// refused and deleted, also at the domains of the request's Host. So
// r.Host must be the public host the browser asked for: behind a proxy
// that rewrites Host to an internal name, restore the public one before
// the middleware, or the deletions go to the internal domains and the
// tossed cookie comes back on every request.
func (m *Manager) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The session lives inside the writer: one allocation for both.
		sw := &writer{ResponseWriter: w, r: r}
		sw.s.m, sw.s.ctx, sw.s.lines, sw.s.host = m, r.Context(), r.Header["Cookie"], r.Host
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), m.contextKey, &sw.s)))
		_ = sw.commit()
	})
}

// writer saves the session exactly once, just before the response header
// is written.
type writer struct {
	http.ResponseWriter
	s       Session
	r       *http.Request
	done    bool
	err     error
	cookies int // Set-Cookie lines the save added
}

// commit saves the session into the header. When that fails and the
// handler was not handed the error by Save, ErrorHandler answers on a
// cleared header, which keeps only the deletion of a destroyed session's
// cookies.
func (w *writer) commit() error {
	if w.done {
		return w.err
	}
	w.done = true
	m := w.s.m
	var lines []string
	lines, w.err = m.save(w.Header(), &w.s, false)
	w.cookies = len(lines)
	if w.err != nil && w.s.reportedFailure() {
		w.err = nil // the handler has the error from Save, and answered it
	}
	if w.err != nil {
		clear(w.Header())
		addValues(w.Header(), "Set-Cookie", lines)
		onError := m.onError
		if onError == nil {
			onError = m.serverError
		}
		onError(w.ResponseWriter, w.r, w.err)
	}
	w.s.markSent()
	return w.err
}

func (m *Manager) serverError(w http.ResponseWriter, r *http.Request, err error) {
	m.log().ErrorContext(r.Context(), "cookiesession: cannot save session", "err", err, "path", r.URL.Path)
	http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
}

func (w *writer) WriteHeader(code int) {
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		// Informational responses (103 Early Hints) precede the real header.
		w.ResponseWriter.WriteHeader(code)
		return
	}
	if w.commit() == nil {
		w.ResponseWriter.WriteHeader(code)
	}
}

func (w *writer) Write(b []byte) (int, error) {
	if err := w.commit(); err != nil {
		return 0, err
	}
	return w.ResponseWriter.Write(b)
}

// ReadFrom keeps io.Copy's sendfile fast path of the underlying writer.
func (w *writer) ReadFrom(src io.Reader) (int64, error) {
	if err := w.commit(); err != nil {
		return 0, err
	}
	return io.Copy(w.ResponseWriter, src)
}

// Flush implements http.Flusher.
func (w *writer) Flush() {
	if w.commit() == nil {
		_ = http.NewResponseController(w.ResponseWriter).Flush()
	}
}

// Hijack implements http.Hijacker for WebSocket libraries that assert it.
// Whoever hijacks writes the response, and no upgrader sends the header
// the session is saved into: cookies still to be sent then are lost, which
// is logged with the fix. It fails where the underlying writer cannot
// hijack (HTTP/2), as http.ResponseController does.
func (w *writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if err := w.commit(); err != nil {
		return nil, nil, err
	}
	if w.cookies > 0 {
		w.s.m.log().WarnContext(w.r.Context(), "cookiesession: the session changed before the connection was hijacked, and the upgrader does not send the handler's header, so the change is lost; pass the lines of Manager.SaveHeader to the upgrader as Set-Cookie before upgrading",
			"cookie", w.s.m.name, "path", w.r.URL.Path)
	}
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }
