package kekbit_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestFrontDoorDependencies: a program that imports the front door and a
// backend compiles no NATS, cobra, protobuf or Prometheus code (those are
// for replicate/jetstream, the command, codecs/protocodec and metrics).
func TestFrontDoorDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps",
		"github.com/kekbit-go/kekbit",
		"github.com/kekbit-go/kekbit/adapters/mmap",
		"github.com/kekbit-go/kekbit/adapters/file",
		"github.com/kekbit-go/kekbit/adapters/memory",
		"github.com/kekbit-go/kekbit/codecs").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	for _, d := range deps {
		for _, heavy := range []string{"github.com/nats-io/", "github.com/spf13/cobra", "google.golang.org/protobuf", "github.com/prometheus/"} {
			if strings.HasPrefix(d, heavy) {
				t.Errorf("the front door and the backends pull in %s", d)
			}
		}
	}
	if len(deps) < 10 {
		t.Fatalf("go list listed %d packages: %q", len(deps), deps)
	}
}
