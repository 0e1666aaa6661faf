package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/cookiesession/cookiesession"
)

func keygen(_ context.Context, args []string, e env) error {
	fs := newFlags("keygen", "[-n N]", "export COOKIESESSION_KEYS=$(cookiesession keygen)", e)
	n := fs.Int("n", 1, "how many secrets to print, comma-separated, newest first")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *n < 1 || *n > 100 || fs.NArg() > 0 {
		return usageError{fmt.Errorf("want -n between 1 and 100 and no arguments")}
	}
	keys := make([]string, *n)
	for i := range keys {
		keys[i] = cookiesession.GenerateKey()
	}
	fmt.Fprintln(e.stdout, strings.Join(keys, ","))
	fmt.Fprintln(e.stderr, "To rotate: add the new key second in COOKIESESSION_KEYS and deploy; once every replica has it, move it first and deploy; drop the old key once the cookies it sealed have expired (MaxAge).")
	return nil
}
