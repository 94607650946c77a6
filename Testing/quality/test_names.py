"""A structure name's side, concept and group, read the same way across label conventions."""

from __future__ import annotations

from SegQualityReviewLib.quality.names import identify, partner_names


def test_sides_read_from_every_convention_in_the_shared_data():
    assert identify("kidney_left").side == identify("left kidney").side == identify("Parotid-Lt").side == 1
    assert identify("kidney_right").side == identify("right kidney").side == identify("Lens-Rt").side == -1
    assert identify("vertebrae_L5").side == 0 and identify("liver").side == 0


def test_one_concept_across_totalsegmentator_amos_and_brats_names():
    assert identify("kidney_left").concept == identify("right kidney").concept == "kidney"
    assert identify("postcava (inferior vena cava)").concept == identify("inferior_vena_cava").concept
    assert identify("necrosis").concept == identify("NCR/NET (necrotic and non-enhancing tumor core)").concept
    assert identify("non-enhancing tumor").concept == "necrotic_core"
    assert (
        identify("ET (GD-enhancing tumor)").concept
        == identify("enhancing tumor").concept
        == "enhancing_tumor"
    )
    assert identify("ED (peritumoral edema)").concept == identify("edema").concept == "edema"


def test_groups_separate_tumour_compartments_and_tissue_kinds():
    assert identify("enhancing tumor").group == "enhancing_tumor"
    assert identify("necrosis").group == "necrotic_core"
    assert identify("lesion / ROI").group == "lesion"
    assert identify("rib_left_3").group == "bone"
    assert identify("iliac_artery_left").group == "vessel"
    assert identify("gluteus_maximus_right").group == "muscle"
    assert identify("spleen").group == "organ"


def test_the_other_sides_structure_is_its_partner():
    names = ("kidney_left", "kidney_right", "liver", "lung_upper_lobe_left")
    assert partner_names("kidney_left", names) == ("kidney_right",)
    assert partner_names("liver", names) == ()
    assert partner_names("lung_upper_lobe_left", names) == ()
