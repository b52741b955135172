package v1beta1

import (
	"testing"
	"time"

	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	"knative.dev/pkg/apis/duck"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

func TestKafkaChannelImplementsDuckTypes(t *testing.T) {
	ducks := []duck.Implementable{
		&eventingduckv1.Channelable{},
		&eventingduckv1.Subscribable{},
		&duckv1.Addressable{},
		&duckv1.KResource{},
	}
	for _, d := range ducks {
		if err := duck.VerifyType(&KafkaChannel{}, d); err != nil {
			t.Errorf("KafkaChannel does not implement %T: %v", d, err)
		}
	}
}

func TestKafkaChannelGetGroupVersionKind(t *testing.T) {
	gvk := (&KafkaChannel{}).GetGroupVersionKind()
	if got, want := gvk.String(), "messaging.knative.dev/v1beta1, Kind=KafkaChannel"; got != want {
		t.Errorf("GetGroupVersionKind() = %q, want %q", got, want)
	}
}

func TestRetentionDuration(t *testing.T) {
	tests := []struct {
		value   string
		want    time.Duration
		wantErr bool
	}{
		{value: "", want: 168 * time.Hour},
		{value: "PT168H", want: 168 * time.Hour},
		{value: "P7D", want: 168 * time.Hour},
		{value: "PT1H30M", want: 90 * time.Minute},
		{value: "PT0S", want: 0},
		{value: "P1W", want: 168 * time.Hour},
		{value: "168h", wantErr: true},
		{value: "PT", wantErr: true},
		{value: "-PT1H", wantErr: true},
		{value: "P1000Y", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			kc := &KafkaChannel{Spec: KafkaChannelSpec{RetentionDuration: tt.value}}
			got, err := kc.RetentionDuration()
			if (err != nil) != tt.wantErr {
				t.Fatalf("RetentionDuration() error = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("RetentionDuration() = %v, want %v", got, tt.want)
			}
		})
	}
}
