module github.com/aam-mesh/aam/migrations

go 1.26.8
