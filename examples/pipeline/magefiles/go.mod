module example.com/pipeline/magefiles

go 1.26.3

require (
	github.com/magefile/mage v1.17.2
	github.com/scratchkit/scratchkit v0.0.0
)

replace github.com/scratchkit/scratchkit => ../../..

tool github.com/magefile/mage
