package cekafka

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/twmb/franz-go/pkg/kgo"

	"knkafka.dev/control-plane/pkg/contract"
)

// KafkaEventType is the type of an event a KafkaSource makes from a record that is not a
// CloudEvent.
const KafkaEventType = "dev.knative.kafka.event"

// Extensions a SourceConverter sets.
const (
	// KeyExtension carries the decoded record key (as does PartitionKeyExtension).
	KeyExtension = "key"
	// KafkaHeaderPrefix starts the extension of every header of a converted record.
	KafkaHeaderPrefix = "kafkaheader"
	// PartitionExtension and OffsetExtension say where the record of any event came from.
	PartitionExtension = "knativekafkapartition"
	OffsetExtension    = "knativekafkaoffset"
)

// SourceConverter turns the records of a KafkaSource into CloudEvents as Knative's KafkaSource
// does, so that subscribers see the same events after a migration:
//
//   - A record that is a valid CloudEvent (Decode: binary ce_ headers or structured JSON) is that
//     event. One whose string attributes are not valid CloudEvents Strings (control characters,
//     noncharacters, invalid UTF-8) is not a valid CloudEvent and is converted like any other
//     record, as the incumbent converts whatever its SDK rejects; with control characters it
//     could not even be sent over HTTP.
//   - Any other record — including a tombstone or an empty value — becomes an event of type
//     KafkaEventType: id "partition:<p>/offset:<o>", source "<EventSource>#<topic>", subject
//     "partition:<p>#<o>", time the record timestamp, the decoded key in the key and
//     partitionkey extensions, every header but content-type as the extension kafkaheader<name>
//     (name lower-cased, characters outside [a-z0-9] dropped), a content-type header
//     (any case) lower-cased as datacontenttype, and the value as data.
//   - Every event then gets knativekafkapartition and knativekafkaoffset, and last the source's
//     extensions (ceOverrides), which win over anything before them.
//
// Header values and string keys are read as UTF-8 (an invalid byte reads as U+FFFD, as the
// incumbent's Java decoder does) and characters a CloudEvents String must not hold are dropped:
// control characters (U+0000–U+001F, U+007F–U+009F) and noncharacters. Go's HTTP client refuses
// control characters in headers, so keeping them would turn the event into a delivery that fails
// every retry and the dead-letter sink; escaping them would reach subscribers verbatim, since the
// CloudEvents SDKs do not decode escapes. A key that is empty, or empty once cleaned, sets no key
// extensions.
type SourceConverter struct {
	eventSource string
	keyType     contract.KeyType
	extensions  map[string]string
}

// NewSourceConverter returns the converter of src. It refuses an EventSource that is not a URI
// reference and extensions whose names or values are not valid CloudEvents extensions.
func NewSourceConverter(src *contract.Source) (*SourceConverter, error) {
	if src == nil {
		return nil, errors.New("no source settings")
	}
	if _, err := url.Parse(src.EventSource); err != nil || src.EventSource == "" {
		return nil, fmt.Errorf("event source %q is not a URI reference", src.EventSource)
	}
	for name, v := range src.Extensions {
		if err := validExtension(name, v); err != nil {
			return nil, err
		}
	}
	return &SourceConverter{eventSource: src.EventSource, keyType: src.KeyType, extensions: src.Extensions}, nil
}

func validExtension(name, value string) error {
	if name == "" || strings.IndexFunc(name, func(r rune) bool { return !isLowerAlnum(r) }) >= 0 {
		return fmt.Errorf("extension name %q must be lower-case letters and digits", name)
	}
	probe := event.New()
	if err := probe.Context.SetExtension(name, value); err != nil {
		return fmt.Errorf("extension %q: %w", name, err)
	}
	if !validString(value) {
		return fmt.Errorf("extension %q: value holds characters a CloudEvents String must not", name)
	}
	return nil
}

// Convert returns the event of r. It never fails: a record that is not a valid CloudEvent is
// converted instead.
func (c *SourceConverter) Convert(r *kgo.Record) *event.Event {
	e, err := Decode(r) // refuses events whose strings CheckStrings rejects
	if err != nil {
		e = c.wrap(r)
	}
	// The names are valid and not spec attributes, so SetExtension cannot fail.
	_ = e.Context.SetExtension(PartitionExtension, strconv.FormatInt(int64(r.Partition), 10))
	_ = e.Context.SetExtension(OffsetExtension, strconv.FormatInt(r.Offset, 10))
	for name, v := range c.extensions {
		_ = e.Context.SetExtension(name, v)
	}
	return e
}

// wrap builds the KafkaEventType event of a record that is not a CloudEvent.
func (c *SourceConverter) wrap(r *kgo.Record) *event.Event {
	e := event.New(event.CloudEventsVersionV1)
	e.SetID(fmt.Sprintf("partition:%d/offset:%d", r.Partition, r.Offset))
	e.SetSource(c.eventSource + "#" + r.Topic)
	e.SetType(KafkaEventType)
	e.SetSubject(fmt.Sprintf("partition:%d#%d", r.Partition, r.Offset))
	e.SetTime(r.Timestamp.UTC())
	if key, ok := c.key(r.Key); ok {
		_ = e.Context.SetExtension(PartitionKeyExtension, key)
		_ = e.Context.SetExtension(KeyExtension, key)
	}
	var contentType *string
	for i := range r.Headers {
		h := &r.Headers[i]
		v := ceString(h.Value)
		if strings.EqualFold(h.Key, HeaderContentType) {
			// The incumbent carries it only as datacontenttype; the last one wins.
			contentType = &v
			continue
		}
		_ = e.Context.SetExtension(KafkaHeaderPrefix+extensionSuffix(h.Key), v)
	}
	if contentType != nil {
		e.SetDataContentType(strings.ToLower(*contentType))
	}
	if len(r.Value) > 0 {
		e.DataEncoded = r.Value
	}
	return &e
}

// extensionSuffix is name lower-cased with everything outside [a-z0-9] dropped. Lower-casing
// comes first and is Unicode's, as in the incumbent, so 'İ' (U+0130) and 'K' (U+212A) survive as
// 'i' and 'k'.
func extensionSuffix(name string) string {
	var b strings.Builder
	for _, r := range name {
		if r = unicode.ToLower(r); isLowerAlnum(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func isLowerAlnum(r rune) bool { return (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') }

// key decodes a record key by the source's key type, as the incumbent's KeyDeserializer does:
// int and float keys of another length than the type's are read as strings; unknown key types
// read as strings too. Beyond the incumbent, an 8-byte int key reads as a 64-bit integer (the
// incumbent reads it as text, which yields control characters) as the contract specifies.
func (c *SourceConverter) key(b []byte) (string, bool) {
	if len(b) == 0 {
		return "", false
	}
	var s string
	switch c.keyType {
	case contract.KeyByteArray:
		return base64.StdEncoding.EncodeToString(b), true
	case contract.KeyInt:
		s = intKey(b)
	case contract.KeyFloat:
		s = floatKey(b)
	default:
		s = ceString(b)
	}
	return s, s != ""
}

func intKey(b []byte) string {
	switch len(b) {
	case 4:
		return strconv.FormatInt(int64(int32(binary.BigEndian.Uint32(b))), 10)
	case 8:
		return strconv.FormatInt(int64(binary.BigEndian.Uint64(b)), 10)
	}
	return ceString(b)
}

func floatKey(b []byte) string {
	switch len(b) {
	case 4:
		return javaFloat(float64(math.Float32frombits(binary.BigEndian.Uint32(b))), 32)
	case 8:
		return javaFloat(math.Float64frombits(binary.BigEndian.Uint64(b)), 64)
	}
	return ceString(b)
}

// javaFloat writes f as Java's Float.toString (bits 32) or Double.toString (bits 64) do, since
// that is the text of a float key in the incumbent's events: the shortest digits that read back
// as f (Java 19 and later), plain with at least one fractional digit when 1e-3 <= |f| < 1e7,
// else d.ddd"E"n.
func javaFloat(f float64, bits int) string {
	if math.IsNaN(f) {
		return "NaN"
	}
	sign := ""
	if math.Signbit(f) {
		sign, f = "-", -f
	}
	switch {
	case math.IsInf(f, 0):
		return sign + "Infinity"
	case f == 0:
		return sign + "0.0"
	}
	digits, exp := decimalDigits(f, -1, bits)
	if len(digits) == 1 {
		// Java then picks the 2-digit decimal nearest to f (Double.MIN_VALUE is 4.9E-324, not
		// 5.0E-324); for all but a few subnormals that is digits followed by a zero.
		digits, exp = decimalDigits(f, 1, bits)
		if trimmed := strings.TrimRight(digits, "0"); trimmed != "" {
			digits = trimmed
		}
	}
	if f >= 1e-3 && f < 1e7 {
		return sign + plainDecimal(digits, exp)
	}
	frac := digits[1:]
	if frac == "" {
		frac = "0"
	}
	return sign + digits[:1] + "." + frac + "E" + strconv.Itoa(exp)
}

// decimalDigits returns the significant digits of f > 0 (prec+1 of them, or the shortest that
// read back as f when prec is -1) and the decimal exponent of the first.
func decimalDigits(f float64, prec, bits int) (string, int) {
	mant, exp10, _ := strings.Cut(strconv.FormatFloat(f, 'e', prec, bits), "e")
	exp, _ := strconv.Atoi(exp10)
	return strings.Replace(mant, ".", "", 1), exp
}

// plainDecimal writes digits (d.ddd scaled by 10^exp) without an exponent.
func plainDecimal(digits string, exp int) string {
	point := exp + 1 // digits before the decimal point
	switch {
	case point <= 0:
		return "0." + strings.Repeat("0", -point) + digits
	case point >= len(digits):
		return digits + strings.Repeat("0", point-len(digits)) + ".0"
	default:
		return digits[:point] + "." + digits[point:]
	}
}

// ceString reads b as UTF-8, an invalid byte as U+FFFD, and drops the characters a CloudEvents
// String must not hold.
func ceString(b []byte) string {
	if s := string(b); validString(s) {
		return s
	}
	var sb strings.Builder
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		b = b[n:]
		if allowedRune(r) {
			sb.WriteRune(r)
		}
	}
	return sb.String()
}
