module github.com/aam-mesh/aam/services

go 1.26.8
