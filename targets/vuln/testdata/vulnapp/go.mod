module example.com/vulnapp

go 1.22

require example.com/vulnmod v1.0.0
