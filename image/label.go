package image

// Relabel sets the name that Path reports, for an input the user knows by
// another name (the embedded example, extracted to a temporary directory).
// Segments and errors keep naming the real files.
func (im *Image) Relabel(name string) { im.path = name }
