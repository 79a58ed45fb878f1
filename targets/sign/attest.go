package sign

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	slsacommon "github.com/in-toto/in-toto-golang/in_toto/slsa_provenance/common"
	slsa1 "github.com/in-toto/in-toto-golang/in_toto/slsa_provenance/v1"
	"github.com/scratchkit/scratchkit/internal/redact"
	"github.com/sigstore/cosign/v2/pkg/cosign/attestation"
	"github.com/sigstore/cosign/v2/pkg/types"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/dsse"
	sigopts "github.com/sigstore/sigstore/pkg/signature/options"
)

// statement is one in-toto statement to attest, with its predicate type URI.
type statement struct {
	predicateType string
	payload       []byte
}

// sbomStatement builds the in-toto statement of an SPDX JSON SBOM about d, the way
// `cosign attest --type spdxjson` does.
func sbomStatement(d name.Digest, path string) (statement, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return statement{}, fmt.Errorf("read SBOM %s: %w", path, err)
	}
	var probe struct {
		SPDXVersion string `json:"spdxVersion"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return statement{}, fmt.Errorf("SBOM %s is not JSON: %w", path, err)
	}
	if !strings.HasPrefix(probe.SPDXVersion, "SPDX-") {
		return statement{}, fmt.Errorf("SBOM %s is not an SPDX JSON document (no spdxVersion)", path)
	}
	st, err := attestation.GenerateStatement(attestation.GenerateOpts{
		Predicate: bytes.NewReader(raw),
		Type:      "spdxjson",
		Digest:    d.DigestStr()[len("sha256:"):],
		Repo:      d.Repository.String(),
	})
	if err != nil {
		return statement{}, fmt.Errorf("SBOM %s: %w", path, err)
	}
	b, err := json.Marshal(st)
	if err != nil {
		return statement{}, err
	}
	return statement{predicateType: PredicateSPDX, payload: b}, nil
}

// provenancePredicate turns Provenance into a SLSA provenance v1 predicate.
func provenancePredicate(p *Provenance) (slsa1.ProvenancePredicate, error) {
	if p.BuilderID == "" {
		return slsa1.ProvenancePredicate{}, fmt.Errorf("provenance: builder id is empty (set it to the URI of the CI workflow or builder)")
	}
	source := map[string]any{}
	var deps []slsa1.ResourceDescriptor
	repo := redact.URL(p.SourceRepo) // never a clone URL's token in an attestation
	if repo != "" || p.Commit != "" {
		src := slsa1.ResourceDescriptor{URI: repo}
		if repo != "" {
			source["uri"] = repo
		}
		if p.SourceRef != "" {
			source["ref"] = p.SourceRef
			src.Annotations = map[string]any{"ref": p.SourceRef}
		}
		if p.Commit != "" {
			source["digest"] = map[string]string{"gitCommit": p.Commit}
			src.Digest = slsacommon.DigestSet{"gitCommit": p.Commit}
		}
		deps = append(deps, src)
	}
	if p.GoVersion != "" {
		deps = append(deps, slsa1.ResourceDescriptor{Name: "go", URI: "pkg:golang/stdlib@" + p.GoVersion})
	}
	mods := append([]Dependency(nil), p.Deps...)
	sort.Slice(mods, func(i, j int) bool { return mods[i].Path < mods[j].Path })
	for _, m := range mods {
		rd := slsa1.ResourceDescriptor{Name: m.Path, URI: "pkg:golang/" + m.Path + "@" + m.Version}
		if h, ok := dirHash(m.Sum); ok {
			rd.Digest = slsacommon.DigestSet{"dirHash": h}
		}
		deps = append(deps, rd)
	}
	ext := map[string]any{}
	if p.Parameters != nil {
		ext["config"] = p.Parameters
	}
	if len(source) > 0 {
		ext["source"] = source
	}
	var internal any
	if p.GoVersion != "" {
		internal = map[string]any{"goVersion": p.GoVersion}
	}
	bt := p.BuildType
	if bt == "" {
		bt = DefaultBuildType
	}
	pred := slsa1.ProvenancePredicate{
		BuildDefinition: slsa1.ProvenanceBuildDefinition{
			BuildType:            bt,
			ExternalParameters:   ext,
			InternalParameters:   internal,
			ResolvedDependencies: deps,
		},
		RunDetails: slsa1.ProvenanceRunDetails{
			Builder:       slsa1.Builder{ID: p.BuilderID},
			BuildMetadata: slsa1.BuildMetadata{InvocationID: p.InvocationID},
		},
	}
	if !p.StartedOn.IsZero() {
		t := p.StartedOn.UTC()
		pred.RunDetails.BuildMetadata.StartedOn = &t
	}
	if !p.FinishedOn.IsZero() {
		t := p.FinishedOn.UTC()
		pred.RunDetails.BuildMetadata.FinishedOn = &t
	}
	return pred, nil
}

// dirHash converts a go.sum "h1:<base64>" hash to the in-toto dirHash digest (lowercase hex).
func dirHash(sum string) (string, bool) {
	b64, ok := strings.CutPrefix(sum, "h1:")
	if !ok {
		return "", false
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != 32 {
		return "", false
	}
	return hex.EncodeToString(raw), true
}

// provenanceStatement builds the SLSA provenance v1 statement about d, the way
// `cosign attest --type slsaprovenance1` does.
func provenanceStatement(d name.Digest, p *Provenance) (statement, error) {
	pred, err := provenancePredicate(p)
	if err != nil {
		return statement{}, err
	}
	raw, err := json.Marshal(pred)
	if err != nil {
		return statement{}, err
	}
	st, err := attestation.GenerateStatement(attestation.GenerateOpts{
		Predicate: bytes.NewReader(raw),
		Type:      "slsaprovenance1",
		Digest:    d.DigestStr()[len("sha256:"):],
		Repo:      d.Repository.String(),
	})
	if err != nil {
		return statement{}, fmt.Errorf("provenance: %w", err)
	}
	b, err := json.Marshal(st)
	if err != nil {
		return statement{}, err
	}
	return statement{predicateType: PredicateSLSA1, payload: b}, nil
}

// dsseSign returns the DSSE envelope (JSON) of an in-toto statement signed with sv.
func dsseSign(ctx context.Context, sv signature.SignerVerifier, payload []byte) ([]byte, error) {
	env, err := dsse.WrapSigner(sv, types.IntotoPayloadType).SignMessage(bytes.NewReader(payload), sigopts.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("sign attestation: %w", err)
	}
	return env, nil
}
