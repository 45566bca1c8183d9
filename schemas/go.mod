module github.com/aam-mesh/aam/schemas

go 1.26.8
