"""Reading and decoding media inputs (images, audio) into arrays, with sample-level errors."""
