package main

import (
	"go/ast"
	"go/parser"
	"go/token"
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
