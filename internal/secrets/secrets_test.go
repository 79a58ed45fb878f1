package secrets

import (
	"slices"
	"testing"
)

func TestEnv(t *testing.T) {
	env := []string{"PATH=/bin", "COSIGN_PASSWORD=hunter2", "SIGSTORE_ID_TOKEN=eyJ", "HOME=/root", "ACTIONS_ID_TOKEN_REQUEST_TOKEN=x"}
	got := Env(env, "GOOS=linux")
	want := []string{"PATH=/bin", "HOME=/root", "GOOS=linux"}
	if !slices.Equal(got, want) {
		t.Fatalf("Env = %q, want %q", got, want)
	}
}
