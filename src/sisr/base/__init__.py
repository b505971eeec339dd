"""The base layer: errors, files and images, devices, colour, hashing, MATLAB imresize, the path scheme; imports
nothing else of sisr."""
