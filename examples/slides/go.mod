module example.com/slides

go 1.26.0

tool golang.org/x/tools/cmd/present

require (
	github.com/yuin/goldmark v1.4.13 // indirect
	golang.org/x/net v0.58.0 // indirect
	golang.org/x/tools v0.49.0 // indirect
)
