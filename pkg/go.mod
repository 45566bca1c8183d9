module github.com/aam-mesh/aam/pkg

go 1.26.8
