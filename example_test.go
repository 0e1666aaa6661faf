package cookiesession_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cookiesession/cookiesession"
)

// Example secrets. Real ones come from cookiesession.GenerateSecret, kept
// in a secret store and passed in the COOKIESESSION_SECRETS environment
// variable.
var (
	exampleKey    = []byte("example-only-key-0001-use-GenerateSecret-instead")
	exampleOldKey = []byte("example-only-key-0000-use-GenerateSecret-instead")
)

// A visit counter: the count lives in the client's cookie.
func ExampleManager_Middleware() {
	sessions, err := cookiesession.New(cookiesession.Options{
		Secrets: [][]byte{exampleKey},
	})
	if err != nil {
		log.Fatal(err)
	}
	handler := sessions.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sessions.FromContext(r.Context())
		visits, _ := cookiesession.Value[int](s, "visits")
		s.Set("visits", visits+1)
		fmt.Fprintf(w, "visit %d", visits+1)
	}))

	cookie := ""
	for range 3 {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Cookie", cookie)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		cookie = strings.SplitN(rec.Header().Get("Set-Cookie"), ";", 2)[0]
		fmt.Println(rec.Body.String())
	}
	// Output:
	// visit 1
	// visit 2
	// visit 3
}

// Logging in with a "remember me" box: a new session ID at login, and a
// cookie that outlives the browser only when the box was ticked.
func ExampleSession_SetTransient() {
	sessions, _ := cookiesession.New(cookiesession.Options{Secrets: [][]byte{exampleKey}})
	login := func(remember bool) string {
		s := sessions.LoadHeader()
		s.Renew() // a new ID whenever privileges change
		s.Set("user_id", 42)
		s.SetTransient(!remember) // kept in the session: set it either way
		if remember {
			s.SetMaxAge(30 * 24 * time.Hour)
		}
		lines, _ := sessions.SaveHeader(s)
		maxAge := "none (gone when the browser closes)"
		if _, age, ok := strings.Cut(lines[0], "Max-Age="); ok {
			maxAge, _, _ = strings.Cut(age, ";")
		}
		return maxAge
	}
	fmt.Println("remember me:", login(true))
	fmt.Println("not ticked:", login(false))
	// Output:
	// remember me: 2592000
	// not ticked: none (gone when the browser closes)
}

// A stored int reads back as an int; a type that does not match reads as
// missing.
func ExampleValue() {
	sessions, _ := cookiesession.New(cookiesession.Options{Secrets: [][]byte{exampleKey}})
	s := sessions.LoadHeader()
	s.Set("user_id", 42)

	id, ok := cookiesession.Value[int](s, "user_id")
	fmt.Println(id, ok)
	name, ok := cookiesession.Value[string](s, "user_id")
	fmt.Printf("%q %v\n", name, ok)
	// Output:
	// 42 true
	// "" false
}

// Without net/http, as in a serverless function: a Cookie header in,
// Set-Cookie header values out.
func ExampleManager_SaveHeader() {
	sessions, _ := cookiesession.New(cookiesession.Options{Secrets: [][]byte{exampleKey}})

	s := sessions.LoadHeader("theme=dark") // the request's Cookie header
	s.Set("cart", []string{"book"})
	setCookies, err := sessions.SaveHeader(s)
	if err != nil {
		log.Fatal(err)
	}
	attrs := strings.Split(setCookies[0], "; ")
	fmt.Println(len(setCookies), strings.HasPrefix(attrs[0], "session="))
	fmt.Println(attrs[1], strings.HasPrefix(attrs[2], "Max-Age="), attrs[3:])

	next := sessions.LoadHeader(strings.SplitN(setCookies[0], ";", 2)[0])
	cart, _ := cookiesession.Value[[]string](next, "cart")
	fmt.Println(cart)
	// Output:
	// 1 true
	// Path=/ true [HttpOnly Secure SameSite=Lax]
	// [book]
}

// Key rotation: the new key goes first. Cookies sealed with the old key
// still open, and are re-issued with the new key on their next response.
func ExampleOptions_rotation() {
	old, _ := cookiesession.New(cookiesession.Options{Secrets: [][]byte{exampleOldKey}})
	s := old.LoadHeader()
	s.Set("user_id", 42)
	lines, _ := old.SaveHeader(s)
	oldCookie := strings.SplitN(lines[0], ";", 2)[0]

	rotated, _ := cookiesession.New(cookiesession.Options{Secrets: [][]byte{exampleKey, exampleOldKey}})
	s = rotated.LoadHeader(oldCookie)
	id, _ := cookiesession.Value[int](s, "user_id")
	lines, _ = rotated.SaveHeader(s)
	fmt.Println(id, s.IsChanged(), len(lines), "cookie re-issued")
	// Output:
	// 42 false 1 cookie re-issued
}

// A session too large for its cookies is an error that names the sizes,
// never a cookie the browser would drop without a word.
func ExampleSizeError() {
	sessions, _ := cookiesession.New(cookiesession.Options{Secrets: [][]byte{exampleKey}})
	s := sessions.LoadHeader()
	s.Set("notes", strings.Repeat("x", 5000))

	_, err := sessions.SaveHeader(s)
	var size *cookiesession.SizeError
	if errors.As(err, &size) {
		fmt.Println(errors.Is(err, cookiesession.ErrTooLarge), size.Size > size.Max, size.Budget, size.MaxChunks)
	}
	// Output:
	// true true 4096 1
}

// Keys shorter than 32 bytes are refused when the Manager is built.
func ExampleNew_weakSecret() {
	_, err := cookiesession.New(cookiesession.Options{Secrets: [][]byte{[]byte("hunter2")}})
	fmt.Println(errors.Is(err, cookiesession.ErrWeakSecret))
	fmt.Println(err)
	// Output:
	// true
	// cookiesession: weak or missing secret: secret 0 is 7 bytes, need at least 32; make one with `cookiesession secret` or GenerateSecret
}

// Revocation: log one session out everywhere, or every session of a user.
// With several replicas, use a shared list (the redisrevocation module)
// in place of the in-memory one.
func ExampleManager_RevokeSubject() {
	revoked := cookiesession.NewMemoryRevocations()
	sessions, err := cookiesession.New(cookiesession.Options{
		Secrets:     [][]byte{exampleKey},
		Revocations: revoked,
	})
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s := sessions.FromContext(r.Context())
		s.Renew()
		s.SetSubject("user-42") // whose session it is, for RevokeSubject
		s.Set("user_id", 42)
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		// Ends this session on every replica, copies of the cookie included,
		// and deletes this browser's cookies.
		s := sessions.FromContext(r.Context())
		if err := sessions.RevokeSession(r.Context(), s); err != nil {
			log.Print(err) // in force here; other replicas may take a moment (a shared list retries)
		}
	})
	mux.HandleFunc("POST /password", func(w http.ResponseWriter, r *http.Request) {
		// Signs the user out of every other device, then keeps this one.
		s := sessions.FromContext(r.Context())
		if err := sessions.RevokeSubject(r.Context(), s.Subject()); err != nil {
			// In force on this replica, and retried until the shared list
			// has it; or there is no list to record it in.
			log.Print(err)
		}
		s.Renew()
	})
	handler := sessions.Middleware(mux)

	post := func(path, cookie string) (string, bool) {
		req := httptest.NewRequest(http.MethodPost, path, nil)
		req.Header.Set("Cookie", cookie)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		set := rec.Header().Get("Set-Cookie")
		return strings.SplitN(set, ";", 2)[0], strings.Contains(set, "Max-Age=0")
	}
	laptop, _ := post("/login", "")
	phone, _ := post("/login", "")
	copied := laptop

	_, deleted := post("/logout", laptop)
	_, err = sessions.Inspect(copied)
	fmt.Println("logout deletes the cookie:", deleted, "and a copy is refused:", errors.Is(err, cookiesession.ErrRevoked))

	tablet, _ := post("/login", "")
	time.Sleep(2 * time.Millisecond) // revocations count in milliseconds
	phone, _ = post("/password", phone)
	_, errPhone := sessions.Inspect(phone)
	_, errTablet := sessions.Inspect(tablet)
	fmt.Println("after a password change the phone stays:", errPhone == nil, "and the tablet is out:", errors.Is(errTablet, cookiesession.ErrRevoked))
	// Output:
	// logout deletes the cookie: true and a copy is refused: true
	// after a password change the phone stays: true and the tablet is out: true
}

// Moving from gorilla/sessions: the Manager also reads the CookieStore's
// cookies and re-issues each in its own format, so nobody is logged out.
func ExampleGorillaCookies() {
	hashKey := []byte("the-hash-key-given-to-NewCookieStore")
	blockKey := []byte("the-32-byte-block-key-of-the-app")
	keys := [][]byte{exampleKey}
	sessions, err := cookiesession.New(cookiesession.Options{
		Secrets: keys,
		Name:    "session", // the name the application passed to store.Get
		Gorilla: &cookiesession.GorillaCookies{
			KeyPairs: [][]byte{hashKey, blockKey}, // as given to sessions.NewCookieStore
		},
	})
	fmt.Println(sessions != nil, err)
	// Output:
	// true <nil>
}

// Sharing sessions with an Express application that uses cookie-session:
// its cookie name and keys, as they are.
func ExampleFormatExpress() {
	os.Setenv("EXPRESS_KEY", "the key string the Express app was given")
	sessions, err := cookiesession.New(cookiesession.Options{
		Format:  cookiesession.FormatExpress,
		Name:    "session",                                  // cookie-session's `name`
		Secrets: [][]byte{[]byte(os.Getenv("EXPRESS_KEY"))}, // its `keys`, in the same order
		// Path, Domain, SameSite and Insecure as in the Express cookie options.
	})
	if err != nil {
		log.Fatal(err)
	}
	s := sessions.LoadHeader()
	s.Set("message", "hi")
	lines, _ := sessions.SaveHeader(s)
	for _, line := range lines {
		fmt.Println(strings.SplitN(line, "=", 2)[0])
	}
	// Output:
	// session
	// session.sig
}

// Keeping the secrets those of a file that the platform updates: replace
// it whole (written aside, then renamed, as Kubernetes, Docker and systemd
// do) to add, promote or remove a secret, and every replica follows.
func ExampleManager_WatchSecretsFile() {
	dir, _ := os.MkdirTemp("", "secrets")
	defer os.RemoveAll(dir)
	sessions, err := cookiesession.New(cookiesession.Options{Secrets: [][]byte{exampleKey}})
	if err != nil {
		log.Fatal(err)
	}
	// Rotation, step one, as the platform would write it: a new secret
	// behind the current one.
	os.WriteFile(filepath.Join(dir, "secrets"), []byte(string(exampleKey)+"\n"+string(exampleOldKey)), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	path := filepath.Join(dir, "secrets") // where the platform mounts them
	go func() { _ = sessions.WatchSecretsFile(ctx, path, 10*time.Second) }()

	for len(sessions.Counts().Secrets) != 2 { // read at once, then every 10 s
		time.Sleep(time.Millisecond)
	}
	fmt.Println(sessions.Counts().Secrets[1].Fingerprint == cookiesession.SecretFingerprint(exampleOldKey))
	// Output:
	// true
}

// The rotation status on an admin listener of its own, never on the
// public mux: it serves the counts and each secret's SafeToRemove answer
// as JSON.
func ExampleManager_StatusHandler() {
	sessions, err := cookiesession.New(cookiesession.Options{
		Secrets: [][]byte{exampleKey, exampleOldKey},
		MaxAge:  30 * 24 * time.Hour,
	})
	if err != nil {
		log.Fatal(err)
	}
	admin := http.NewServeMux()
	admin.Handle("GET /cookiesession", sessions.StatusHandler(30*24*time.Hour))
	// Serve it on an internal address, for example:
	// go func() { log.Fatal(http.ListenAndServe("127.0.0.1:9090", admin)) }()

	rec := httptest.NewRecorder()
	admin.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/cookiesession", nil))
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
	fmt.Println(strings.Contains(rec.Body.String(), `"safe_to_remove": false`))
	// Output:
	// 200 application/json
	// true
}
