package main

import (
	"context"
	"fmt"

	"github.com/cookiesession/cookiesession"
)

func secret(_ context.Context, args []string, e env) error {
	fs := newFlags("secret", "", "export "+secretsEnv+"=$(cookiesession secret)", e)
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	secret := cookiesession.GenerateSecret()
	fmt.Fprintf(e.stdout, "%s\n", secret)
	fmt.Fprintf(e.stderr, "A new secret, fingerprint %s (Manager.Counts and inspect name it so). To rotate to it: put it second in %s and deploy; once every replica has it, move it first and deploy; remove the old secret once Manager.SafeToRemove says so, or the cookies it sealed have expired (MaxAge).\n", cookiesession.SecretFingerprint(secret), secretsEnv)
	return nil
}
