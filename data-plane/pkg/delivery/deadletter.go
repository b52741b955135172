package delivery

import (
	"encoding/base64"

	"github.com/cloudevents/sdk-go/v2/event"
	"knative.dev/eventing/pkg/kncloudevents/attributes"
)

// withErrorExtensions returns a copy of e carrying the error extensions Knative adds for a
// dead-letter sink:
//   - knativeerrordest: the subscriber URL;
//   - knativeerrorcode: the subscriber's last status as a CloudEvents Integer, as eventing's
//     kncloudevents does; omitted after a network error (eventing invents 500 there; we do not
//     claim a response that never came);
//   - knativeerrordata: base64 of the first maxErrorDataBytes of the subscriber's last response
//     body; omitted if that body was empty. The bytes are truncated before encoding, so the value
//     is always valid base64.
//
// The original e is not modified: it may be shared with other egresses.
//
// The names are valid extension names and the values are a string and an int, so SetExtension
// cannot fail here.
func (s *Sender) withErrorExtensions(e *event.Event, dest string, last attempt) *event.Event {
	dl := e.Clone()
	dl.SetExtension(attributes.KnativeErrorDestExtensionKey, dest)
	if last.status > 0 {
		dl.SetExtension(attributes.KnativeErrorCodeExtensionKey, last.status)
	}
	if data := last.body; len(data) > 0 {
		if len(data) > s.maxErrorDataBytes {
			data = data[:s.maxErrorDataBytes]
		}
		dl.SetExtension(attributes.KnativeErrorDataExtensionKey, base64.StdEncoding.EncodeToString(data))
	}
	return &dl
}
