package contractsource

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"time"

	"go.uber.org/zap"

	"knkafka.dev/control-plane/pkg/contract"
)

// File follows a contract file. It polls (stat, then a hash of the content on change) rather than
// relying on inotify, so it also sees the symlink swaps of mounted volumes and editors that
// replace files.
type File struct {
	path     string
	interval time.Duration
	logger   *zap.Logger
}

// NewFile follows path, checking every interval (100ms when zero).
func NewFile(path string, interval time.Duration, logger *zap.Logger) *File {
	if interval <= 0 {
		interval = 100 * time.Millisecond
	}
	return &File{path: path, interval: interval, logger: logger}
}

// Run applies the file's contract now and after every change, until ctx ends. It returns an
// error only when the first read fails, so a misconfigured path is reported at start-up.
func (f *File) Run(ctx context.Context, apply ApplyFunc) error {
	var (
		lastStat  os.FileInfo
		lastHash  [32]byte
		applied   bool
		firstTime = true
	)
	ticker := time.NewTicker(f.interval)
	defer ticker.Stop()
	for {
		st, err := os.Stat(f.path)
		switch {
		case err != nil && firstTime:
			return fmt.Errorf("reading contract file: %w", err)
		case err != nil:
			f.logger.Warn("contract file unreadable; keeping the last contract", zap.String("path", f.path), zap.Error(err))
		case lastStat == nil || !sameFile(st, lastStat) || !applied:
			lastStat = st
			data, err := os.ReadFile(f.path)
			if err != nil {
				f.logger.Warn("contract file unreadable; keeping the last contract", zap.String("path", f.path), zap.Error(err))
				break
			}
			h := sha256.Sum256(data)
			if applied && bytes.Equal(h[:], lastHash[:]) {
				break
			}
			c, err := contract.Unmarshal(data)
			if err != nil {
				f.logger.Error("invalid contract file; keeping the last contract", zap.String("path", f.path), zap.Error(err))
				lastHash, applied = h, true
				break
			}
			if err := apply(ctx, c); err != nil {
				f.logger.Error("applying contract", zap.Uint64("generation", c.Generation), zap.Error(err))
				applied = false
				break
			}
			lastHash, applied = h, true
		}
		firstTime = false
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

func sameFile(a, b os.FileInfo) bool {
	return a.Size() == b.Size() && a.ModTime().Equal(b.ModTime()) && os.SameFile(a, b)
}
