package redisrevocation

import (
	"errors"
	"fmt"

	"github.com/cookiesession/cookiesession/redisrevocation/driver"
)

// The list's commands and what Redis answers them; the layout of what
// they read and write is package record's.

// command is a Redis command without keys.
func command(name ...string) driver.Command { return driver.Command{Name: name} }

// keyed is a Redis command on key, with args after it.
func keyed(name, key string, args ...string) driver.Command {
	return driver.Command{Name: []string{name}, Keys: []string{key}, Args: args}
}

// str is r's string, or why it is none.
func str(r driver.Reply) (string, error) {
	if r.Err != nil {
		return "", r.Err
	}
	if s, ok := r.Value.(string); ok {
		return s, nil
	}
	return "", fmt.Errorf("redisrevocation: Redis answered %T, not a string", r.Value)
}

// integer is r's integer, or why it is none.
func integer(r driver.Reply) (int64, error) {
	if r.Err != nil {
		return 0, r.Err
	}
	if n, ok := r.Value.(int64); ok {
		return n, nil
	}
	return 0, fmt.Errorf("redisrevocation: Redis answered %T, not an integer", r.Value)
}

// strs is r's array of strings, or why it is none.
func strs(r driver.Reply) ([]string, error) {
	if r.Err != nil {
		return nil, r.Err
	}
	switch v := r.Value.(type) {
	case []string:
		return v, nil
	case nil:
		return nil, nil
	}
	return nil, fmt.Errorf("redisrevocation: Redis answered %T, not an array", r.Value)
}

// redisError is err's error reply from Redis, if it is one.
func redisError(err error) (driver.ErrorReply, bool) {
	var re driver.ErrorReply
	return re, errors.As(err, &re)
}
