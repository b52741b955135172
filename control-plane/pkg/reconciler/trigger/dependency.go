package trigger

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	pkgreconciler "knative.dev/pkg/reconciler"
)

// Reasons of the DependencyReady condition; they are those of Knative's MT broker, which reads the
// knative.dev/dependency annotation the same way.
const (
	ReasonDependencyReferenceError = "ReferenceError"
	ReasonDependencyTrackFailed    = "DependencyTrackFailed"
	ReasonListerDoesNotExist       = "ListerDoesNotExist"
	ReasonDependencyDoesNotExist   = "DependencyDoesNotExist"
	ReasonDependencyGetFailed      = "DependencyGetFailed"
	ReasonGenerationNotEqual       = "GenerationNotEqual"
)

// dependency sets t's DependencyReady condition from the object its knative.dev/dependency
// annotation names (an object of t's namespace with a Ready condition, typically the source
// feeding the broker): True without the annotation; otherwise the object's Ready, Unknown while
// the object has not observed its latest generation, False when it does not exist. The object is
// tracked, so its creation or any change requeues t. The dependency only gates t's Ready, not its
// delivery: t's egress is set either way, as Knative's MT broker keeps its subscription.
func (r *Reconciler) dependency(ctx context.Context, t *eventingv1.Trigger) pkgreconciler.Event {
	annotation, ok := t.Annotations[eventingv1.DependencyAnnotation]
	if !ok {
		t.Status.MarkDependencySucceeded()
		return nil
	}
	ref, err := eventingv1.GetObjRefFromDependencyAnnotation(annotation)
	if err != nil {
		// Only a change of the annotation can help, and that requeues t.
		t.Status.MarkDependencyFailed(ReasonDependencyReferenceError, "Unable to unmarshal objectReference from dependency annotation of trigger: %v", err)
		return nil
	}
	ref.Namespace = t.Namespace
	if err := r.dependencies.TrackInNamespace(ctx, t)(ref); err != nil {
		t.Status.MarkDependencyUnknown(ReasonDependencyTrackFailed, "Failed to track the dependency %s %s: %v", ref.Kind, ref.Name, err)
		return fmt.Errorf("tracking the dependency %s %s/%s: %w", ref.Kind, ref.Namespace, ref.Name, err)
	}
	lister, err := r.dependencies.ListerFor(ref)
	if err != nil {
		t.Status.MarkDependencyUnknown(ReasonListerDoesNotExist, "Failed to retrieve lister: %v", err)
		return fmt.Errorf("listing the dependency's kind %s: %w", ref.Kind, err)
	}
	obj, err := lister.ByNamespace(t.Namespace).Get(ref.Name)
	if apierrors.IsNotFound(err) {
		// The tracker requeues t once it exists.
		t.Status.MarkDependencyFailed(ReasonDependencyDoesNotExist, "Dependency does not exist: %v", err)
		return nil
	} else if err != nil {
		t.Status.MarkDependencyUnknown(ReasonDependencyGetFailed, "Failed to get dependency: %v", err)
		return fmt.Errorf("getting the dependency %s %s/%s: %w", ref.Kind, ref.Namespace, ref.Name, err)
	}
	dep, ok := obj.(*duckv1.Source)
	if !ok {
		// The informers of the tracker are of the Source duck; anything else is a programming error.
		t.Status.MarkDependencyUnknown(ReasonDependencyGetFailed, "Failed to get dependency: unexpected type %T", obj)
		return fmt.Errorf("the dependency %s %s/%s is a %T, not a Source duck", ref.Kind, ref.Namespace, ref.Name, obj)
	}
	if dep.Generation != dep.Status.ObservedGeneration {
		// Its conditions describe an older spec; its next status update requeues t.
		t.Status.MarkDependencyUnknown(ReasonGenerationNotEqual, "The dependency's metadata.generation, %d, is not equal to its status.observedGeneration, %d.",
			dep.Generation, dep.Status.ObservedGeneration)
		return nil
	}
	t.Status.PropagateDependencyStatus(dep)
	return nil
}
