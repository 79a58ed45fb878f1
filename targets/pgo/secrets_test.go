package pgo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scratchkit/scratchkit/internal/secrets"
	"github.com/scratchkit/scratchkit/internal/testenv"
)

// The PGO workload (the service and its load command) never sees the signing secrets.
func TestWorkloadNeverSeesSigningSecrets(t *testing.T) {
	bin := hello(t)
	for _, s := range secrets.Names {
		t.Setenv(s, "workload-must-not-see-this")
	}
	envFile := filepath.Join(t.TempDir(), "env")
	svc := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	dbg := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	w := &Workload{
		Command:  []string{"/bin/sh", "-c", `env > "$0"; exec "$@"`, envFile, bin, "-addr", svc, "-debug-addr", dbg},
		PprofURL: "http://" + dbg,
		Ready:    "http://" + svc + "/healthz",
		URLs:     []string{"http://" + svc + "/work?n=2000"},
	}
	if _, _, err := Collect(context.Background(), Options{Workload: w, Seconds: 1, MainModule: helloModule, Log: t.Logf}); err != nil {
		t.Fatal(err)
	}
	env, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(env), "PATH=") {
		t.Fatalf("the workload's environment was not captured: %s", env)
	}
	if strings.Contains(string(env), "workload-must-not-see-this") {
		t.Errorf("the workload saw a signing secret:\n%s", env)
	}
}
