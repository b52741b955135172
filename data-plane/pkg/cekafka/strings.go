package cekafka

import (
	"fmt"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
)

// CheckStrings reports the first context attribute or extension of e whose string form holds a
// character the CloudEvents type system forbids in a String: invalid UTF-8, the control characters
// U+0000–U+001F and U+007F–U+009F, or a Unicode noncharacter.
//
// The sdk's event.Validate does not check this, and such an event cannot be delivered: in binary
// mode its attributes become HTTP headers, which Go's HTTP client refuses to send. Accepting it
// would mean a 202 followed by retries that can never succeed, so the ingress rejects it with 400
// and Decode refuses it.
func CheckStrings(e *event.Event) error {
	if e == nil || e.Context == nil {
		return nil
	}
	c := e.Context
	attrs := [...]struct{ name, value string }{
		{"id", c.GetID()},
		{"source", c.GetSource()},
		{"type", c.GetType()},
		{"subject", c.GetSubject()},
		{"datacontenttype", c.GetDataContentType()},
		{"dataschema", c.GetDataSchema()},
	}
	for _, a := range attrs {
		if err := checkString(a.value); err != nil {
			return fmt.Errorf("attribute %s: %w", a.name, err)
		}
	}
	for name, v := range extensions(c) {
		s, err := types.Format(v)
		if err != nil {
			return fmt.Errorf("extension %s: %w", name, err)
		}
		if err := checkString(s); err != nil {
			return fmt.Errorf("extension %s: %w", name, err)
		}
	}
	return nil
}

// checkString returns an error naming the first forbidden character of s.
func checkString(s string) error {
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !validRuneAt(s, i):
			return fmt.Errorf("invalid UTF-8 at byte %d", i)
		case isControl(r):
			return fmt.Errorf("control character %U at byte %d is not allowed in a cloudevents string", r, i)
		case isNoncharacter(r):
			return fmt.Errorf("noncharacter %U at byte %d is not allowed in a cloudevents string", r, i)
		}
	}
	return nil
}

// validString reports whether s is a valid CloudEvents String.
func validString(s string) bool { return checkString(s) == nil }

// allowedRune reports whether a CloudEvents String may hold r.
func allowedRune(r rune) bool { return !isControl(r) && !isNoncharacter(r) }

func isControl(r rune) bool { return r <= 0x1f || r >= 0x7f && r <= 0x9f }

func isNoncharacter(r rune) bool { return r >= 0xfdd0 && r <= 0xfdef || r&0xfffe == 0xfffe }

// validRuneAt tells a literal U+FFFD in s (valid) from a decoding error (invalid).
func validRuneAt(s string, i int) bool {
	_, size := utf8.DecodeRuneInString(s[i:])
	return size == 3
}

// extensions returns the extensions of c for reading. EventContextV1.GetExtensions copies them into
// a new map on every call (and its value receiver copies the whole context first); a v1.0 context
// is read in place instead.
func extensions(c event.EventContext) map[string]any {
	switch v1 := c.(type) {
	case *event.EventContextV1:
		return v1.Extensions
	case nil:
		return nil
	default:
		return c.GetExtensions()
	}
}
