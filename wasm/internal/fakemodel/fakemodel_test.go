package fakemodel

import "testing"

func TestOpen(t *testing.T) {
	c, name, err := Open(File(4, "tiny"))
	if err != nil || name != "tiny" || c.Size != 4 {
		t.Fatalf("Open: %v %q %v", c, name, err)
	}
	// A pure red image: Drawing (r) and Sexy (1-b) lead.
	pix := make([]uint8, 2*2*3)
	for i := 0; i < len(pix); i += 3 {
		pix[i] = 255
	}
	p, err := c.ClassifyRGB(pix, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	if p[0] != p[4] || p[0] <= p[2] {
		t.Errorf("probabilities %v", p)
	}
	for _, bad := range [][]byte{nil, []byte("VEILFAKE"), []byte("VEILFAKE\x00"), []byte("nope")} {
		if _, _, err := Open(bad); err == nil {
			t.Errorf("Open(%q) succeeded", bad)
		}
	}
}
