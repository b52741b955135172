package v1alpha1

import "context"

// SetDefaults fills the unset spec fields.
func (ks *KafkaSink) SetDefaults(ctx context.Context) {
	ks.Spec.SetDefaults(ctx)
}

// SetDefaults sets contentMode to ModeBinary when it is unset or empty.
func (s *KafkaSinkSpec) SetDefaults(context.Context) {
	if s.ContentMode == nil || *s.ContentMode == "" {
		mode := ModeBinary
		s.ContentMode = &mode
	}
}
