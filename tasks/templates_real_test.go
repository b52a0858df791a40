package tasks

import (
	"slices"
	"strings"
	"testing"

	"github.com/ptbench/ptbench/core/data"
)

// TestTemplatesOnRealExamples checks the source and target of one fixed official example of
// every task whose files are in the shared data. The expected strings were produced from the
// raw files by a separate script following protocol.md (not by this package).
func TestTemplatesOnRealExamples(t *testing.T) {
	requireData(t, "")
	cases := []struct {
		task, id, source, target string
		answers                  []string
		group                    string
	}{
		{task: "cola", id: "cola/val/0",
			source: "sentence: The sailors rode the breeze clear of the rocks.",
			target: "1"},
		{task: "sst2", id: "sst2/val/0",
			source: "sentence: it 's a charming and often affecting journey .",
			target: "1"},
		{task: "mrpc", id: "mrpc/val/0",
			source: "sentence1: He said the foodservice pie business doesn't fit the company's long-term growth strategy. sentence2: \"The foodservice pie business does not fit our long-term growth strategy.",
			target: "1"},
		{task: "stsb", id: "stsb/val/1",
			source: "sentence1: A young child is riding a horse. sentence2: A child is riding a horse.",
			target: "4.8"},
		{task: "rte", id: "rte/val/0",
			source: "sentence1: Dana Reeve, the widow of the actor Christopher Reeve, has died of lung cancer at age 44, according to the Christopher Reeve Foundation. sentence2: Christopher Reeve had an accident.",
			target: "1"},
		{task: "qnli", id: "qnli/val/0",
			source: "question: What came into force after the new constitution was herald? sentence: As of that day, the new constitution heralding the Second Republic came into force.",
			target: "0"},
		{task: "boolq", id: "boolq/val/0",
			source: "question: does ethanol take more energy make that produces passage: Ethanol fuel -- All biomass goes through at least some of these steps: it needs to be grown, collected, dried, fermented, distilled, and burned. All of these steps require resources and an infrastructure. The total amount of energy input into the process compared to the energy released by burning the resulting ethanol fuel is known as the energy balance (or ``energy returned on energy invested''). Figures compiled in a 2007 report by National Geographic Magazine point to modest results for corn ethanol produced in the US: one unit of fossil-fuel energy is required to create 1.3 energy units from the resulting ethanol. The energy balance for sugarcane ethanol produced in Brazil is more favorable, with one unit of fossil-fuel energy required to create 8 from the ethanol. Energy balance estimates are not easily produced, thus numerous such reports have been generated that are contradictory. For instance, a separate survey reports that production of ethanol from sugarcane, which requires a tropical climate to grow productively, returns from 8 to 9 units of energy for each unit expended, as compared to corn, which only returns about 1.34 units of fuel energy for each unit of energy expended. A 2006 University of California Berkeley study, after analyzing six separate studies, concluded that producing ethanol from corn uses much less petroleum than producing gasoline.",
			target: "0"},
		{task: "cb", id: "cb/val/0",
			source: "premise: Valence the void-brain, Valence the virtuous valet. Why couldn't the figger choose his own portion of titanic anatomy to shaft? Did he think he was helping? hypothesis: Valence was helping",
			target: "1"},
		{task: "wic", id: "wic/val/0",
			source: "sentence1: An emerging professional class. sentence2: Apologizing for losing your temper, even though you were badly provoked, showed real class. word: class",
			target: "0"},
		{task: "wsc", id: "wsc/val/0",
			source: "text: Bernard , who had not told the government official that he was less than 21 when he filed for a homestead claim, did not consider that he had done anything dishonest. Still, * anyone * who knew that he was 19 years old could take his claim away from # him # .",
			target: "0"},
		{task: "multirc", id: "multirc/val/p0/q0/a1",
			source: "question: Would the mass of a baseball affect how much force you have to use to pick it up? answer: Yes paragraph: What causes a change in motion? The application of a force. Any time an object changes motion, a force has been applied. In what ways can this happen? Force can cause an object at rest to start moving. Forces can cause objects to speed up or slow down. Forces can cause a moving object to stop. Forces can also cause a change in direction. In short, forces cause changes in motion. The moving object may change its speed, its direction, or both. We know that changes in motion require a force. We know that the size of the force determines the change in motion. How much an objects motion changes when a force is applied depends on two things. It depends on the strength of the force. It also depends on the objects mass. Think about some simple tasks you may regularly do. You may pick up a baseball. This requires only a very small force.",
			target: "1", group: "multirc/val/p0/q0"},
		{task: "squad", id: "squad/val/56be4db0acb8001400a502ec",
			source: "question: Which NFL team represented the AFC at Super Bowl 50? context: Super Bowl 50 was an American football game to determine the champion of the National Football League (NFL) for the 2015 season. The American Football Conference (AFC) champion Denver Broncos defeated the National Football Conference (NFC) champion Carolina Panthers 24–10 to earn their third Super Bowl title. The game was played on February 7, 2016, at Levi's Stadium in the San Francisco Bay Area at Santa Clara, California. As this was the 50th Super Bowl, the league emphasized the \"golden anniversary\" with various gold-themed initiatives, as well as temporarily suspending the tradition of naming each Super Bowl game with Roman numerals (under which the game would have been known as \"Super Bowl L\"), so that the logo could prominently feature the Arabic numerals 50.",
			target: "Denver Broncos", answers: []string{"Denver Broncos"}},
	}
	for _, c := range cases {
		t.Run(c.task, func(t *testing.T) {
			ds, err := LoadEval(taskByName(t, c.task), data.DataOptions{DataDir: dataDir})
			if err != nil {
				t.Fatal(err)
			}
			ex, ok := findExample(allSplits(ds), c.id)
			if !ok {
				t.Fatalf("no example %s", c.id)
			}
			if ex.Source != c.source {
				t.Errorf("source\n got %q\nwant %q", ex.Source, c.source)
			}
			if ex.Target != c.target {
				t.Errorf("target = %q, want %q", ex.Target, c.target)
			}
			if !slices.Equal(ex.Answers, c.answers) {
				t.Errorf("answers = %q, want %q", ex.Answers, c.answers)
			}
			if ex.Group != c.group {
				t.Errorf("group = %q, want %q", ex.Group, c.group)
			}
			if strings.Contains(ex.Source, "  ") {
				t.Errorf("source has a double space: %q", ex.Source)
			}
		})
	}
}
