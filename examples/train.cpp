// The training job (in progress on this branch).
int main() { return 0; }
