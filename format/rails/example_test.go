package rails_test

import (
	"fmt"
	"log"
	"os"
	"time"

	"github.com/cookiesession/cookiesession"
	"github.com/cookiesession/cookiesession/format/rails"
)

// railsCookie is a session cookie Rails 6.1 wrote (testdata/rails, with
// Rails 7.0's SHA256 key derivation and no expire_after) for
// {"user_id": 42}, with the session_id and CSRF token Rails adds.
const railsCookie = "Ixa9Gp7GI%2FnqJRH06vkodLivJd3b40WH8N3sJlPMVHQDc548gqjBWOVvx18lD9Y2q0mbbDMtSSvf1zGpRerEhgtjjvfOl7beSUzMADn1VztJ6M4UPAJXnYU7y4bamRJkFokqi73nxkVMYQPRLykpRwqlENCikf9yaWCsIR%2Bg0lEh0t21qdIaTvN6ksV%2FVzwmS9%2BGcO%2Fb4QdQruxg49jadN1SsaS%2BuN6EE4lA5lr1nQc%2F1F0pbcte5E5lJZb1wo6aiBFoyLTbVVdpqDZvDRNifN9m1BxmyVEqC4tUmyf5DJ38lsvYACg%3D--dBXTsKJnaq0pObos--q5n4sA6JHHWRosogKe3DpQ%3D%3D"

// Sharing the login with a Rails application: its secret_key_base, its
// session cookie's name and its expire_after.
func ExampleFormat() {
	os.Setenv("SECRET_KEY_BASE", "5038fb2933d332536a8f116312554a09692e4c7fe3b5460e1d0e6b13e13595531e4771802fc7f284563097777e044951e97203d5af8df5229a39cd76878a16a4")
	sessions, err := cookiesession.New(cookiesession.Options{
		Format:  rails.Format{},                                 // Rails 7.0 defaults; rails.Format{Digest: rails.SHA1} for 6.1
		Name:    "_myapp_session",                               // session_store :cookie_store, key: "_myapp_session"
		Secrets: [][]byte{[]byte(os.Getenv("SECRET_KEY_BASE"))}, // then the old ones in cookies_rotations
		MaxAge:  14 * 24 * time.Hour,                            // expire_after: 14.days
		// Path, Domain, SameSite and Insecure as in the Rails session_store options.
	})
	if err != nil {
		log.Fatal(err)
	}
	s := sessions.LoadHeader("_myapp_session=" + railsCookie)
	userID, _ := cookiesession.Value[int](s, "user_id")
	token, _ := cookiesession.Value[string](s, "_csrf_token")
	fmt.Println(userID, s.ID(), token)
	// Output: 42 4d6cb918a4968d1b9bece2d86fc246db GuJv83cOFkg4onSCKR6P3RWkL8vKveKeWTx9oN797XM=
}
