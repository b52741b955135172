package eventing

import (
	"testing"
)

func TestParseDeliveryOrder(t *testing.T) {
	tests := []struct {
		value   string
		want    string
		wantErr string
	}{
		{value: "ordered", want: DeliveryOrderOrdered},
		{value: "unordered", want: DeliveryOrderUnordered},
		{value: "key-ordered", want: DeliveryOrderKeyOrdered},
		{value: "Ordered", want: DeliveryOrderOrdered},
		{value: "UNORDERED", want: DeliveryOrderUnordered},
		{value: "Key-Ordered", want: DeliveryOrderKeyOrdered},
		{value: "uNoRdErEd", want: DeliveryOrderUnordered},
		{
			value:   " ordered",
			wantErr: `annotation kafka.eventing.knative.dev/delivery.order must be "ordered", "unordered" or "key-ordered" (in any case), got " ordered"`,
		},
		{
			value:   "",
			wantErr: `annotation kafka.eventing.knative.dev/delivery.order must be "ordered", "unordered" or "key-ordered" (in any case), got ""`,
		},
		{
			value:   "key_ordered",
			wantErr: `annotation kafka.eventing.knative.dev/delivery.order must be "ordered", "unordered" or "key-ordered" (in any case), got "key_ordered"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			got, err := ParseDeliveryOrder(tt.value)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if got != tt.want || gotErr != tt.wantErr {
				t.Errorf("ParseDeliveryOrder(%q) = %q, %q; want %q, %q", tt.value, got, gotErr, tt.want, tt.wantErr)
			}
		})
	}
}

// FuzzParseDeliveryOrder checks that whatever it accepts is canonical and parses to itself, and
// that exactly the case-insensitive spellings of the three values are accepted.
func FuzzParseDeliveryOrder(f *testing.F) {
	for _, s := range []string{"ordered", "UNORDERED", "Key-Ordered", "", " ordered", "keyordered", "ſ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		got, err := ParseDeliveryOrder(value)
		if err != nil {
			if got != "" {
				t.Fatalf("ParseDeliveryOrder(%q) = %q with error %v", value, got, err)
			}
			return
		}
		again, err := ParseDeliveryOrder(got)
		if err != nil || again != got {
			t.Fatalf("ParseDeliveryOrder(%q) = %q, which parses to %q, %v", value, got, again, err)
		}
		found := false
		for _, v := range DeliveryOrders {
			found = found || v == got
		}
		if !found {
			t.Fatalf("ParseDeliveryOrder(%q) = %q, not one of %v", value, got, DeliveryOrders)
		}
	})
}

func TestValidateDeliveryOrderAnnotation(t *testing.T) {
	const expected = "\n" + `expected "ordered", "unordered" or "key-ordered", in any case`
	tests := []struct {
		name        string
		annotations map[string]string
		wantErr     string
	}{
		{name: "no annotations", annotations: nil},
		{name: "other annotations only", annotations: map[string]string{"foo": "bar"}},
		{name: "ordered", annotations: map[string]string{DeliveryOrderAnnotation: "ordered"}},
		{name: "unordered", annotations: map[string]string{DeliveryOrderAnnotation: "unordered"}},
		{name: "key-ordered, our extension", annotations: map[string]string{DeliveryOrderAnnotation: "key-ordered"}},
		{name: "values are case-insensitive, as in Knative's Kafka broker", annotations: map[string]string{DeliveryOrderAnnotation: "Ordered"}},
		{name: "upper-case key-ordered", annotations: map[string]string{DeliveryOrderAnnotation: "KEY-ORDERED"}},
		{
			name:        "an unknown value",
			annotations: map[string]string{DeliveryOrderAnnotation: "sometimes"},
			wantErr:     `invalid value: sometimes: metadata.annotations[kafka.eventing.knative.dev/delivery.order]` + expected,
		},
		{
			name:        "empty value",
			annotations: map[string]string{DeliveryOrderAnnotation: ""},
			wantErr:     `invalid value: : metadata.annotations[kafka.eventing.knative.dev/delivery.order]` + expected,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateDeliveryOrderAnnotation(tt.annotations)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.wantErr {
				t.Errorf("ValidateDeliveryOrderAnnotation() = %q, want %q", got, tt.wantErr)
			}
		})
	}
}
