package tasks

// init registers every task of the protocol and the synthetic smoke tasks with data.
func init() {
	for _, t := range glueTasks() {
		register(t, t.about)
	}
	for _, t := range superGLUETasks() {
		register(t, t.about)
	}
	for _, t := range qaTasks() {
		register(t, t.about)
	}
	for _, t := range syntheticTasks() {
		register(t, t.about)
	}
}
