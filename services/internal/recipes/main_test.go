package recipes_test

import (
	"testing"

	"github.com/aam-mesh/aam/pkg/dbtest"
)

func TestMain(m *testing.M) { dbtest.VerifyTestMain(m) }
