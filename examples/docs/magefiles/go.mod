module example.com/docs/magefiles

go 1.26.3

require github.com/scratchkit/scratchkit v0.0.0

require github.com/magefile/mage v1.17.2 // indirect

replace github.com/scratchkit/scratchkit => ../../..

tool github.com/magefile/mage
