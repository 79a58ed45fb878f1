package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"strings"
	"testing"
)

// Every mage target in package targets is a command of the same name, with the same one-line
// doc, so `mage -l` and `scratchkit -h` say the same thing.
func TestCommandsMatchTargets(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "../../targets/targets.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	targets := map[string]string{}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || !fn.Name.IsExported() || fn.Recv != nil || fn.Name.Name == "Configure" {
			continue
		}
		targets[strings.ToLower(fn.Name.Name)] = strings.TrimSpace(fn.Doc.Text())
	}
	for _, c := range commands() {
		doc, ok := targets[strings.ToLower(c.name)]
		if !ok {
			t.Errorf("command %s has no target in targets/targets.go", c.name)
			continue
		}
		if doc != c.doc {
			t.Errorf("%s: the target says\n\t%s\nthe command says\n\t%s", c.name, doc, c.doc)
		}
		delete(targets, strings.ToLower(c.name))
	}
	for name := range targets {
		t.Errorf("target %s has no command in cmd/scratchkit", name)
	}
}

// The core engine (-tags scratchkit_core), what a first `mage image` builds, links neither the
// signing stack nor ko's daemon and kind publishers: they are the full engine's cost alone.
func TestCoreEngineLinksNoSigningStack(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-tags", "scratchkit_core", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "github.com/sigstore/") || strings.HasPrefix(p, "github.com/google/ko/") {
			t.Errorf("the core engine links %s", p)
		}
	}
}
