// Package display is a subscriber for demos, like Knative's event_display: Handler prints every
// CloudEvent it receives (binary or structured mode) and answers 202; ListenAndServe serves one.
package display

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

// Handler prints received events to an io.Writer.
type Handler struct {
	mu  sync.Mutex
	out io.Writer
}

// NewHandler prints to out.
func NewHandler(out io.Writer) *Handler { return &Handler{out: out} }

// ServeHTTP prints the event of r, or answers 400 when r is not a CloudEvent.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "send CloudEvents with POST", http.StatusMethodNotAllowed)
		return
	}
	msg := cehttp.NewMessageFromHttpRequest(r)
	defer func() { _ = msg.Finish(nil) }()
	e, err := binding.ToEvent(r.Context(), msg)
	if err == nil {
		err = e.Validate()
	}
	if err != nil {
		http.Error(w, fmt.Sprintf("not a CloudEvent: %v", err), http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	// event.String renders the attribute/extension/data layout event_display users know.
	_, _ = fmt.Fprint(h.out, e.String())
	h.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

// ListenAndServe serves a Handler printing to out on addr until ctx ends, then shuts down,
// letting requests in progress finish.
func ListenAndServe(ctx context.Context, addr string, out io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: NewHandler(out), ReadHeaderTimeout: 10 * time.Second}
	errs := make(chan error, 1)
	go func() { errs <- srv.Serve(ln) }()
	select {
	case err := <-errs:
		return err
	case <-ctx.Done():
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(stopCtx)
}
