package testenv

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

// Predicate returns, as JSON, the predicate of the first in-toto statement of predicateType in
// the output of `cosign verify-attestation` (one DSSE envelope a line).
func Predicate(t testing.TB, out, predicateType string) json.RawMessage {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		var env struct {
			Payload string `json:"payload"`
		}
		if json.Unmarshal([]byte(line), &env) != nil || env.Payload == "" {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(env.Payload)
		if err != nil {
			continue
		}
		var st struct {
			PredicateType string          `json:"predicateType"`
			Predicate     json.RawMessage `json:"predicate"`
		}
		if json.Unmarshal(raw, &st) == nil && st.PredicateType == predicateType {
			return st.Predicate
		}
	}
	t.Fatalf("no %s statement in the cosign output:\n%s", predicateType, out)
	return nil
}
