package kubetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// eventingModule provides the Knative core CRDs, under config/core/resources.
const eventingModule = "knative.dev/eventing"

// crdPaths returns what to install: the Knative eventing core CRD directory of the module version in
// our go.mod, and each file under the repository's config/ that holds a CustomResourceDefinition.
func crdPaths(ctx context.Context) ([]string, error) {
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", eventingModule)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("locating %s with `go list -m`: %w: %s", eventingModule, err, strings.TrimSpace(stderr.String()))
	}
	knative := filepath.Join(strings.TrimSpace(string(out)), "config", "core", "resources")
	ours, err := crdFiles(filepath.Join(root, "config"))
	if err != nil {
		return nil, err
	}
	return append([]string{knative}, ours...), nil
}

// moduleRoot returns the nearest directory at or above the working directory (a test's package
// directory) that holds a go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("getting the working directory: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod at or above the working directory")
		}
		dir = parent
	}
}

// crdFiles returns the YAML files under dir that hold at least one CustomResourceDefinition; none
// when dir does not exist.
func crdFiles(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && path == dir {
			return fs.SkipAll
		}
		if err != nil || d.IsDir() || !isManifest(path) {
			return err
		}
		objs, err := readManifestFile(path)
		if err != nil {
			return err
		}
		for _, o := range objs {
			if o.GetKind() == "CustomResourceDefinition" {
				files = append(files, path)
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("looking for CRDs under %s: %w", dir, err)
	}
	return files, nil
}

// waitCRDsSettled waits until every named CRD is Established and two seconds have passed since the
// last became so. kube-apiserver sleeps 2 s in any create of a custom resource whose CRD was
// Established less than 2 s earlier (the "justCreated" check in apiextensions-apiserver's
// customresource_handler.go), which would otherwise land on whichever test creates one first. It
// returns how long it slept for that.
func waitCRDsSettled(ctx context.Context, cfg *rest.Config, names []string) (time.Duration, error) {
	client, err := apiextensionsclient.NewForConfig(cfg)
	if err != nil {
		return 0, fmt.Errorf("building the apiextensions client: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var latest time.Time
	for _, name := range names {
		for {
			crd, err := client.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return 0, fmt.Errorf("reading CRD %s: %w", name, err)
			}
			if at, ok := established(crd); ok {
				if at.After(latest) {
					latest = at
				}
				break
			}
			select {
			case <-ctx.Done():
				return 0, fmt.Errorf("CRD %s is not Established: %w", name, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	// The condition's time is truncated to the second, exactly as kube-apiserver compares it.
	wait := time.Until(latest.Add(2*time.Second + 50*time.Millisecond))
	if wait <= 0 {
		return 0, nil
	}
	select {
	case <-ctx.Done():
		return 0, fmt.Errorf("waiting for the CRDs to settle: %w", ctx.Err())
	case <-time.After(wait):
		return wait, nil
	}
}

func established(crd *apiextensionsv1.CustomResourceDefinition) (time.Time, bool) {
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
			return c.LastTransitionTime.Time, true
		}
	}
	return time.Time{}, false
}
