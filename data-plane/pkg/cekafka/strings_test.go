package cekafka

import (
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestCheckStrings(t *testing.T) {
	base := func() event.Event {
		e := event.New()
		e.SetID("1")
		e.SetSource("/s")
		e.SetType("t")
		return e
	}
	tests := []struct {
		name    string
		mutate  func(*event.Event)
		wantErr string // empty: valid
	}{
		{name: "plain event", mutate: func(*event.Event) {}},
		{name: "unicode text and a literal replacement character", mutate: func(e *event.Event) { e.SetSubject("héllo \uFFFD 世界") }},
		{name: "tab in id", mutate: func(e *event.Event) { e.SetID("a\tb") }, wantErr: "attribute id: control character U+0009"},
		{name: "NUL in type", mutate: func(e *event.Event) { e.SetType("a\x00") }, wantErr: "attribute type: control character U+0000"},
		{name: "DEL in subject", mutate: func(e *event.Event) { e.SetSubject("\x7f") }, wantErr: "attribute subject: control character U+007F"},
		{name: "C1 control in subject", mutate: func(e *event.Event) { e.SetSubject("a\u0085b") }, wantErr: "attribute subject: control character U+0085"},
		{name: "newline in an extension", mutate: func(e *event.Event) { e.SetExtension("ext", "a\nb") }, wantErr: "extension ext: control character U+000A"},
		{name: "noncharacter in an extension", mutate: func(e *event.Event) { e.SetExtension("ext", "\uFFFE") }, wantErr: "extension ext: noncharacter U+FFFE"},
		{name: "invalid UTF-8 in id", mutate: func(e *event.Event) { e.SetID("a\xffb") }, wantErr: "attribute id: invalid UTF-8 at byte 1"},
		{name: "integer extension", mutate: func(e *event.Event) { e.SetExtension("n", 42) }},
		{name: "U+00A0 is allowed", mutate: func(e *event.Event) { e.SetID("a\u00a0b") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := base()
			tt.mutate(&e)
			err := CheckStrings(&e)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("CheckStrings: %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("CheckStrings: %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// A record written by a client that bypassed our ingress must not become an event the
// dispatcher retries forever: Decode refuses it, so it is skipped as undecodable.
func TestDecodeRefusesControlCharacters(t *testing.T) {
	r := &kgo.Record{Headers: []kgo.RecordHeader{
		{Key: "ce_specversion", Value: []byte("1.0")},
		{Key: "ce_id", Value: []byte("a\tb")},
		{Key: "ce_source", Value: []byte("/s")},
		{Key: "ce_type", Value: []byte("t")},
	}}
	if _, err := Decode(r); err == nil || !strings.Contains(err.Error(), "attribute id: control character U+0009") {
		t.Fatalf("Decode: %v, want the control character named", err)
	}
	r.Headers[1].Value = []byte("ab")
	if _, err := Decode(r); err != nil {
		t.Fatalf("Decode of the same record without the tab: %v", err)
	}
}
