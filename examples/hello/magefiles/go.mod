module example.com/hello/magefiles

go 1.26.0

require github.com/scratchkit/scratchkit v0.0.0

require (
	github.com/fatih/color v1.19.0 // indirect
	github.com/google/go-containerregistry v0.22.1 // indirect
	github.com/magefile/mage v1.17.2 // indirect
	github.com/mattn/go-colorable v0.1.14 // indirect
	github.com/mattn/go-isatty v0.0.20 // indirect
	github.com/opencontainers/go-digest v1.0.0 // indirect
	go.yaml.in/yaml/v3 v3.0.6 // indirect
	golang.org/x/sys v0.47.0 // indirect
)

replace github.com/scratchkit/scratchkit => ../../..

tool github.com/magefile/mage
