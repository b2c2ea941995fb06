/**
 * The `--mesh-secret` every test relay gets unless a test gives its own (or asks for none): a mesh
 * link always needs one, and a relay without one refuses `/_mesh`. At least 16 bytes, as the
 * relay requires.
 */
export const TEST_MESH_SECRET = 'rhizome-test-mesh-secret-0f3a9c'
