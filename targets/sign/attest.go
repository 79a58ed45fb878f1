package sign

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	intotov1 "github.com/in-toto/attestation/go/v1"
	slsacommon "github.com/in-toto/in-toto-golang/in_toto/slsa_provenance/common"
	slsa1 "github.com/in-toto/in-toto-golang/in_toto/slsa_provenance/v1"
	"github.com/scratchkit/scratchkit/internal/modsum"
	"github.com/scratchkit/scratchkit/internal/redact"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
)

// statement is one in-toto statement to attest, with its predicate type URI.
type statement struct {
	predicateType string
	payload       []byte
}

// sbomStatement builds the in-toto statement of an SPDX JSON SBOM about d: what
// `cosign attest --type spdxjson` attests, as an in-toto Statement v1.
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
	st, err := newStatement(imageSubject(d, nil), PredicateSPDX, raw)
	if err != nil {
		return statement{}, fmt.Errorf("SBOM %s: %w", path, err)
	}
	return st, nil
}

// signatureStatement is the statement an image signature in a Sigstore bundle signs: its subject
// is the digest, with the signature's annotations (`cosign sign -a`), and its predicate is empty,
// as cosign writes it.
func signatureStatement(d name.Digest, annotations map[string]any) (statement, error) {
	sub := imageSubject(d, annotations)
	sub.Name = "" // cosign names only the digest
	return newStatement(sub, PredicateCosignSign, []byte("{}"))
}

// imageSubject is the in-toto subject of the image d: its repository and digest, the way cosign
// names an attested image.
func imageSubject(d name.Digest, annotations map[string]any) *intotov1.ResourceDescriptor {
	rd := &intotov1.ResourceDescriptor{
		Name:   d.Repository.String(),
		Digest: map[string]string{"sha256": strings.TrimPrefix(d.DigestStr(), "sha256:")},
	}
	if len(annotations) > 0 {
		// Values are strings (Options.Annotations), which structpb always accepts.
		rd.Annotations, _ = structpb.NewStruct(annotations)
	}
	return rd
}

// newStatement builds an in-toto Statement v1 about subject with a JSON object as predicate.
func newStatement(subject *intotov1.ResourceDescriptor, predicateType string, predicate []byte) (statement, error) {
	pred := &structpb.Struct{}
	if err := protojson.Unmarshal(predicate, pred); err != nil {
		return statement{}, fmt.Errorf("%s predicate is not a JSON object: %w", predicateType, err)
	}
	st := &intotov1.Statement{
		Type:          intotov1.StatementTypeUri,
		Subject:       []*intotov1.ResourceDescriptor{subject},
		PredicateType: predicateType,
		Predicate:     pred,
	}
	if err := st.Validate(); err != nil {
		return statement{}, fmt.Errorf("in-toto statement: %w", err)
	}
	b, err := protojson.Marshal(st)
	if err != nil {
		return statement{}, fmt.Errorf("in-toto statement: %w", err)
	}
	return statement{predicateType: predicateType, payload: b}, nil
}

// provenancePredicate turns Provenance into a SLSA provenance v1 predicate.
func provenancePredicate(p *Provenance) (slsa1.ProvenancePredicate, error) {
	if p.BuilderID == "" {
		return slsa1.ProvenancePredicate{}, fmt.Errorf("provenance: builder id is empty (set it to the URI of the CI workflow or builder)")
	}
	source, deps := sourceOf(p)
	deps = append(deps, goDependencies(p)...)
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

// sourceOf is the source repository p names, as the source external parameter and as a
// resolved dependency (neither when p names none).
func sourceOf(p *Provenance) (map[string]any, []slsa1.ResourceDescriptor) {
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
	return source, deps
}

// goDependencies are the Go toolchain and the modules, sorted by path, p was built with, as
// resolved dependencies.
func goDependencies(p *Provenance) []slsa1.ResourceDescriptor {
	var deps []slsa1.ResourceDescriptor
	if p.GoVersion != "" {
		deps = append(deps, slsa1.ResourceDescriptor{Name: "go", URI: "pkg:golang/stdlib@" + p.GoVersion})
	}
	mods := append([]Dependency(nil), p.Deps...)
	sort.Slice(mods, func(i, j int) bool { return mods[i].Path < mods[j].Path })
	for _, m := range mods {
		rd := slsa1.ResourceDescriptor{Name: m.Path, URI: "pkg:golang/" + m.Path + "@" + m.Version}
		if h, ok := modsum.Hex(m.Sum); ok {
			rd.Digest = slsacommon.DigestSet{"dirHash": h}
		}
		deps = append(deps, rd)
	}
	return deps
}

// provenanceStatement builds the SLSA provenance v1 statement about d: what
// `cosign attest --type slsaprovenance1` attests, as an in-toto Statement v1.
func provenanceStatement(d name.Digest, p *Provenance) (statement, error) {
	pred, err := provenancePredicate(p)
	if err != nil {
		return statement{}, err
	}
	raw, err := json.Marshal(pred)
	if err != nil {
		return statement{}, err
	}
	st, err := newStatement(imageSubject(d, nil), PredicateSLSA1, raw)
	if err != nil {
		return statement{}, fmt.Errorf("provenance: %w", err)
	}
	return st, nil
}
