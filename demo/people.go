package demo

import (
	"fmt"

	"github.com/casebook/casebook/domain"
)

// Fictional names by nationality. They are combinations of common given
// names and surnames, chosen so that no entry describes a real person.
var names = []struct {
	nationality string
	given       []string
	family      []string
}{
	{"GBR", []string{"Daniel", "Lee", "Mark", "Paul", "Stephen", "Gary", "Kelly", "Wayne", "Craig", "Dean"}, []string{"Ashworth", "Brennan", "Colley", "Dawes", "Fenwick", "Hollis", "Marsh", "Pryor", "Tranter", "Whitlock"}},
	{"FRA", []string{"Karim", "Julien", "Sébastien", "Mehdi", "Nicolas", "Yannick", "Samir", "Ludovic"}, []string{"Delattre", "Vasseur", "Lefebvre", "Caron", "Boulanger", "Dufour", "Leroy", "Hennequin"}},
	{"IRQ", []string{"Hawre", "Rebwar", "Karwan", "Shwan", "Dilshad", "Aram"}, []string{"Abdullah", "Hama", "Rasul", "Kareem", "Mahmoud", "Salih"}},
	{"AFG", []string{"Ahmad", "Farid", "Jawed", "Naveed", "Rahim", "Wahid"}, []string{"Rahimi", "Karimi", "Noori", "Safi", "Stanekzai", "Hakimi"}},
	{"VNM", []string{"Van Minh", "Thi Lan", "Duc Anh", "Quang", "Thanh Hai"}, []string{"Nguyen", "Tran", "Pham", "Hoang", "Vu"}},
	{"ALB", []string{"Arben", "Dritan", "Ervin", "Gentian", "Klodian"}, []string{"Hoxha", "Kola", "Leka", "Marku", "Shehu"}},
	{"NLD", []string{"Johan", "Ruud", "Marco", "Dennis"}, []string{"de Graaf", "Visser", "Bakker", "Jansen"}},
	{"POL", []string{"Piotr", "Tomasz", "Marek", "Krzysztof"}, []string{"Nowak", "Wiśniewski", "Zieliński", "Kamiński"}},
	{"ROU", []string{"Ionuț", "Florin", "Marian", "Cătălin"}, []string{"Popescu", "Dumitru", "Stan", "Ionescu"}},
	{"LTU", []string{"Darius", "Tomas", "Mindaugas"}, []string{"Kazlauskas", "Petrauskas", "Jankauskas"}},
}

// nationalityMix picks nationalities for a case's suspects: a gang's members
// mostly share one or two nationalities with a few locals.
func (b *builder) person(nationalities ...string) domain.SuspectIdentified {
	var idx []int
	for i, n := range names {
		for _, want := range nationalities {
			if n.nationality == want {
				idx = append(idx, i)
			}
		}
	}
	if len(idx) == 0 {
		for i := range names {
			idx = append(idx, i)
		}
	}
	n := names[idx[b.rng.IntN(len(idx))]]
	dob := fmt.Sprintf("%04d-%02d-%02d", 1958+b.rng.IntN(35), 1+b.rng.IntN(12), 1+b.rng.IntN(28))
	return domain.SuspectIdentified{
		PersonID:    b.uuid(),
		Name:        b.pick(n.given) + " " + b.pick(n.family),
		DateOfBirth: dob,
		Nationality: n.nationality,
	}
}
