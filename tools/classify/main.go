package main
import (
 _ "github.com/stretchr/testify/require"
 _ "golang.org/x/image/webp"
 _ "golang.org/x/image/draw"
 _ "gonum.org/v1/gonum/mat"
)
func main(){}
