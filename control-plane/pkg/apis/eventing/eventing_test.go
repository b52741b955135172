package eventing

import (
	"testing"
)

func TestValidateDeliveryOrderAnnotation(t *testing.T) {
	tests := []struct {
		name        string
		annotations map[string]string
		wantErr     string
	}{
		{name: "no annotations", annotations: nil},
		{name: "other annotations only", annotations: map[string]string{"foo": "bar"}},
		{name: "ordered", annotations: map[string]string{DeliveryOrderAnnotation: "ordered"}},
		{name: "unordered", annotations: map[string]string{DeliveryOrderAnnotation: "unordered"}},
		{
			name:        "key-ordered is not a value Knative's Kafka broker accepts",
			annotations: map[string]string{DeliveryOrderAnnotation: "key-ordered"},
			wantErr:     `invalid value: key-ordered: metadata.annotations[kafka.eventing.knative.dev/delivery.order]` + "\n" + `expected "ordered" or "unordered"`,
		},
		{
			name:        "values are case sensitive",
			annotations: map[string]string{DeliveryOrderAnnotation: "Ordered"},
			wantErr:     `invalid value: Ordered: metadata.annotations[kafka.eventing.knative.dev/delivery.order]` + "\n" + `expected "ordered" or "unordered"`,
		},
		{
			name:        "empty value",
			annotations: map[string]string{DeliveryOrderAnnotation: ""},
			wantErr:     `invalid value: : metadata.annotations[kafka.eventing.knative.dev/delivery.order]` + "\n" + `expected "ordered" or "unordered"`,
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
