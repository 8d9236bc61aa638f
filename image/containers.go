package image

// containers are the container formats read, in the order their Detect
// functions are tried. One entry per reader package under image/.
var containers = []container{}
